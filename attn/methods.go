package attn

// The positional methods are declared once, in the table methods below:
// the policy (Policy's methods), the command-line flags
// (internal/methodflags), the baseline suite's list (cmd/suite), the
// methods' table of docs/methods.md and the PyTorch reference
// (scripts/torch_reference.py, through testdata/methods.json) read it.
// docs/adding-a-method.md says what else a new method needs.

// Rotation is how a method rotates q and k.
type Rotation int

// The rotations.
const (
	// NoRotation leaves q and k as they are (ALiBi).
	NoRotation Rotation = iota
	// RoPEFrequencies rotates by RoPE's θ_i = base^(−2i/d).
	RoPEFrequencies
	// Interpolated divides every frequency by s (position interpolation).
	Interpolated
	// NTKBase raises the base to base·s^(d/(d−2)) (NTK-aware).
	NTKBase
	// YaRNRamp interpolates the slow frequencies and keeps the fast ones,
	// a linear ramp between (NTK-by-parts), and multiplies the logits by
	// mscale².
	YaRNRamp
)

// Mask is which query/key pairs a method keeps.
type Mask int

// The masks.
const (
	// KeepAll keeps every pair.
	KeepAll Mask = iota
	// Local keeps |i−j| <= n0−1 and the pairs of a sink row or column
	// (i < S or j < S).
	Local
	// Windowed keeps |i−j| <= Window.
	Windowed
)

// Far is the distance from which a kept pair uses the clamped rotation
// (the distance clamped to ±(w−1), sign kept).
type Far int

// The far rules.
const (
	// NoFar: no clamped rotation.
	NoFar Far = iota
	// FarAtReRoPEWindow: w = Policy.ReRoPEWindow.
	FarAtReRoPEWindow
	// FarAtTrainLength: w = n0.
	FarAtTrainLength
)

// SuiteUse is how the baseline suite (cmd/suite) applies a method to a
// model trained at n0 with RoPE.
type SuiteUse int

// The uses.
const (
	// TrainingFree: at evaluation time only.
	TrainingFree SuiteUse = iota
	// FineTuned: fine-tuned from the base model first.
	FineTuned
	// FineTunedAndTrainingFree: both, the fine-tuned one named NAME-ft.
	FineTunedAndTrainingFree
)

// MethodSpec is one positional method: everything the project reads about
// it, in one table entry.
type MethodSpec struct {
	Method Method
	// Name is the flag spelling (config.json's "method").
	Name     string
	Rotation Rotation
	Mask     Mask
	// Sinks is the default number of sink tokens of a Local mask.
	Sinks int
	Far   Far
	// Bias adds ALiBi's −ALiBiSlope·|i−j| inside the logits' bracket.
	Bias bool
	// Target: trained (and fine-tuned) for a target length, whose factor
	// s = target/n0 it keeps at every evaluation length.
	Target bool
	// SkipPositions: training draws PoSE's skip-wise position ids.
	SkipPositions bool
	Suite         SuiteUse
	// Doc and Params are the method's cells of docs/methods.md: what it
	// does, and its parameters with their defaults.
	Doc, Params string
}

var methods = [...]MethodSpec{
	{Method: RoPE, Name: "rope", Rotation: RoPEFrequencies,
		Doc:    "RoPE, θ_i = base^(−2i/d), rotation of the pairs (x_2i, x_2i+1), output halves concatenated",
		Params: "`rope_base` (10000)"},
	{Method: PI, Name: "pi", Rotation: Interpolated, Target: true, Suite: FineTunedAndTrainingFree,
		Doc:    "position interpolation: θ_i' = θ_i / s (positions scaled by n0/L); training-free with s = L/n0 per length, or fine-tuned at L' > n0 with s = L'/n0 fixed",
		Params: "`-target-length`"},
	{Method: NTK, Name: "ntk", Rotation: NTKBase, Target: true,
		Doc:    "NTK-aware: base' = base · s^(d/(d−2))",
		Params: "`-target-length`"},
	{Method: YaRN, Name: "yarn", Rotation: YaRNRamp, Target: true,
		Doc:    "NTK-by-parts: θ_i' = (1−γ_i)·θ_i/s + γ_i·θ_i, γ_i = 1 − clamp((i − low)/(high − low), 0, 1), low = max(⌊corr(β_fast)⌋, 0), high = min(⌈corr(β_slow)⌉, d−1), corr(r) = d·ln(n0/(2πr))/(2 ln base); logits × mscale², mscale = 0.1 ln s + 1",
		Params: "`-yarn-beta-fast` (32), `-yarn-beta-slow` (1), `-target-length`"},
	{Method: PoSE, Name: "pose", Rotation: RoPEFrequencies, Target: true, SkipPositions: true, Suite: FineTuned,
		Doc:    "training: two chunks, the second shifted by a skip u ~ U[0, T−n0] (positions stay below the target length T and increase); evaluation: plain RoPE",
		Params: "`-target-length` (64·n0)"},
	{Method: ALiBi, Name: "alibi", Rotation: NoRotation, Bias: true, Suite: FineTuned,
		Doc:    "no rotation at all; logit c(n)·(q·k/sqrt(d) − m·|i−j|): the bias on the scaled logits (Press et al.); `config.json`'s `alibi_slope` is m·sqrt(d), the slope inside the kernels' bracket (q·k + bias)/sqrt(d)",
		Params: "`-alibi-slope` m (2^−8, one head)"},
	{Method: StreamingLLM, Name: "streamingllm", Rotation: RoPEFrequencies, Mask: Local, Sinks: StreamingLLMSinks,
		Doc:    "keep (i,j) iff |i−j| ≤ n0−1 or j < S or i < S",
		Params: "`-sinks` S (4)"},
	{Method: LMInfinite, Name: "lminfinite", Rotation: RoPEFrequencies, Mask: Local, Sinks: LMInfiniteSinks, Far: FarAtTrainLength,
		Doc:    "Λ-mask: keep iff |i−j| ≤ n0−1 or j < S or i < S; kept pairs with |i−j| ≥ n0 use the distance clamped to ±(n0−1)",
		Params: "`-sinks` S (5)"},
	{Method: ReRoPE, Name: "rerope", Rotation: RoPEFrequencies, Far: FarAtReRoPEWindow,
		Doc:    "|i−j| < w: normal RoPE; farther pairs: distance clamped to ±(w−1)",
		Params: "`-rerope-window` w (n0)"},
	{Method: Window, Name: "window", Rotation: RoPEFrequencies, Mask: Windowed,
		Doc:    "keep iff |i−j| ≤ W",
		Params: "`-window` W (64)"},
}

// spec is m's entry of the table (the zero spec, which keeps every pair
// unrotated, for an invalid m; Policy.Validate refuses those).
func (m Method) spec() *MethodSpec {
	if m < 0 || int(m) >= len(methods) {
		return &MethodSpec{}
	}
	return &methods[m]
}

// Spec returns m's entry of the table.
func (m Method) Spec() MethodSpec { return *m.spec() }

// SuiteMethod is one method as the baseline suite names it.
type SuiteMethod struct {
	// Name is the method's name, with "-ft" for the fine-tuned form of a
	// method the suite also applies training-free.
	Name      string
	Method    Method
	FineTuned bool
}

// SuiteMethods lists the methods the baseline suite compares, in the
// table's order.
func SuiteMethods() []SuiteMethod {
	var out []SuiteMethod
	for _, s := range methods {
		switch s.Suite {
		case TrainingFree:
			out = append(out, SuiteMethod{Name: s.Name, Method: s.Method})
		case FineTuned:
			out = append(out, SuiteMethod{Name: s.Name, Method: s.Method, FineTuned: true})
		case FineTunedAndTrainingFree:
			out = append(out, SuiteMethod{Name: s.Name, Method: s.Method}, SuiteMethod{Name: s.Name + "-ft", Method: s.Method, FineTuned: true})
		}
	}
	return out
}
