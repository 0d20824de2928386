package attn

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Norm selects how attention logits are turned into probabilities.
type Norm int

// The normalisations of the paper.
const (
	// Softmax is plain softmax(a).
	Softmax Norm = iota
	// SoftmaxPlus is softmax(a·ln(n)/ln(base)), GAU-α's pre-training default.
	SoftmaxPlus
	// InfoScale is softmax(a·sqrt(1-n^(-2/d))/sqrt(1-n0^(-2/d))), the paper's
	// training-free entropy-invariant temperature.
	InfoScale
	// YaRNTemp is YaRN's attention temperature on its own: softmax(a·m²)
	// with m = 0.1·ln(n/n0) + 1 beyond n0 (Peng et al. 2023 scale q and k
	// by m; the YaRN method applies it with its frequencies, this applies
	// it to any method).
	YaRNTemp
	// Llama4Temp is Llama 4's attention temperature tuning made a function
	// of the keys a row sees: softmax(a·(1 + 0.1·ln(1 + ⌊(n−1)/n0⌋))),
	// Llama 4's factor of the query at position n−1 with floor_scale n0,
	// counted so that it is 1 up to n0.
	Llama4Temp
)

var normNames = []string{"softmax", "softmax_plus", "infoscale", "yarn_temp", "llama4_temp"}

// String returns the flag spelling of n.
func (n Norm) String() string {
	if n < 0 || int(n) >= len(normNames) {
		return fmt.Sprintf("Norm(%d)", int(n))
	}
	return normNames[n]
}

// ParseNorm parses a normalisation name as written on the command line.
func ParseNorm(s string) (Norm, error) {
	for i, name := range normNames {
		if strings.EqualFold(s, name) {
			return Norm(i), nil
		}
	}
	return 0, fmt.Errorf("unknown normalisation %q (want %s)", s, strings.Join(normNames, ", "))
}

// Method selects how positions enter attention.
type Method int

// The positional methods compared in the paper.
const (
	RoPE Method = iota
	PI
	NTK
	YaRN
	PoSE
	ALiBi
	StreamingLLM
	LMInfinite
	ReRoPE
	Window
)

// MethodNames lists the accepted method names in the table's order.
func MethodNames() []string {
	var names []string
	for _, s := range methods {
		names = append(names, s.Name)
	}
	return names
}

// NormNames lists the accepted normalisation names in a fixed order.
func NormNames() []string { return append([]string(nil), normNames...) }

// String returns the flag spelling of m.
func (m Method) String() string {
	if m < 0 || int(m) >= len(methods) {
		return fmt.Sprintf("Method(%d)", int(m))
	}
	return methods[m].Name
}

// ParseMethod parses a method name as written on the command line.
func ParseMethod(s string) (Method, error) {
	for _, m := range methods {
		if strings.EqualFold(s, m.Name) {
			return m.Method, nil
		}
	}
	return 0, fmt.Errorf("unknown method %q (want %s)", s, strings.Join(MethodNames(), ", "))
}

// Defaults of the method parameters (docs/spec.md §3).
const (
	DefaultRopeBase        = 10000.0
	DefaultSoftmaxPlusBase = 512.0
	DefaultWindow          = 64
	// DefaultALiBiSlope is Press et al.'s slope m of a single head, 2^-8,
	// on the scaled logits q·k/sqrt(d) (see PressALiBiSlope).
	DefaultALiBiSlope   = 1.0 / 256
	DefaultYaRNBetaFast = 32.0
	DefaultYaRNBetaSlow = 1.0
	StreamingLLMSinks   = 4
	LMInfiniteSinks     = 5
)

// Policy is the complete description of one attention configuration. The zero
// values of the optional parameters mean "the method's default"; call
// WithDefaults to fill them in before use.
type Policy struct {
	Norm     Norm    // normalisation
	Base     float64 // softmax_plus base; default 512
	TrainLen int     // n0, the training length; InfoScale's reference and the baselines' window
	KeySize  int     // d, the attention key size
	CosScale float64 // s > 0 enables cosine attention with logit s·cos; 0 disables

	Method       Method
	RopeBase     float64 // RoPE base; default 10000
	Window       int     // windowed attention keeps |i-j| <= Window; default 64
	ReRoPEWindow int     // ReRoPE's w; default n0
	Sinks        int     // StreamingLLM / LM-Infinite sink tokens; default 4 / 5
	// ALiBiSlope is the slope of ALiBi's bias inside the kernels' bracket
	// (m·q̃·k̃ + bias)/sqrt(d), i.e. on the unscaled q·k. Press et al.'s
	// slope m on the scaled logits q·k/sqrt(d) is PressALiBiSlope(m, d) =
	// m·sqrt(d) here; the default is that of m = 2^-8. A slope m written
	// here unconverted is the authors' released placement (bias before the
	// /sqrt(d), sqrt(d) times weaker).
	ALiBiSlope   float64
	YaRNBetaFast float64 // default 32
	YaRNBetaSlow float64 // default 1
	// TargetLen fixes the context-extension factor of PI, NTK and YaRN at
	// s = TargetLen/n0 (a model fine-tuned for that length keeps its
	// scale at every evaluation length). 0: s = L/n0 for each sequence
	// length L (the training-free use).
	TargetLen int
	// VisibleKeys makes the normalisation count, for the masking methods
	// (StreamingLLM, LM-Infinite, windowed attention), the keys an interior
	// query row keeps (VisibleKeyCount) instead of all n valid keys. It
	// changes nothing for the other methods.
	VisibleKeys bool
}

// WithDefaults returns p with every unset optional parameter replaced by its
// default.
func (p Policy) WithDefaults() Policy {
	if p.Base == 0 {
		p.Base = DefaultSoftmaxPlusBase
	}
	if p.RopeBase == 0 {
		p.RopeBase = DefaultRopeBase
	}
	if p.Window == 0 {
		p.Window = DefaultWindow
	}
	if p.ReRoPEWindow == 0 {
		p.ReRoPEWindow = p.TrainLen
	}
	if p.Sinks == 0 {
		p.Sinks = p.Method.spec().Sinks
	}
	if p.ALiBiSlope == 0 && p.KeySize > 0 {
		p.ALiBiSlope = PressALiBiSlope(DefaultALiBiSlope, p.KeySize)
	}
	if p.YaRNBetaFast == 0 {
		p.YaRNBetaFast = DefaultYaRNBetaFast
	}
	if p.YaRNBetaSlow == 0 {
		p.YaRNBetaSlow = DefaultYaRNBetaSlow
	}
	return p
}

// Validate reports the first impossible setting of p.
func (p Policy) Validate() error {
	switch {
	case p.Norm < 0 || int(p.Norm) >= len(normNames):
		return fmt.Errorf("attention: invalid normalisation %d", int(p.Norm))
	case p.Method < 0 || int(p.Method) >= len(methods):
		return fmt.Errorf("attention: invalid method %d", int(p.Method))
	case p.KeySize < 2 || p.KeySize%2 != 0:
		return fmt.Errorf("attention: key size %d must be even and at least 2 (RoPE rotates pairs)", p.KeySize)
	case p.TrainLen < 1:
		return fmt.Errorf("attention: training length n0 = %d must be at least 1", p.TrainLen)
	case p.Norm == InfoScale && p.TrainLen < 2:
		return fmt.Errorf("attention: InfoScale needs a training length n0 >= 2 (got %d)", p.TrainLen)
	case !(p.CosScale >= 0) || math.IsInf(p.CosScale, 0):
		return fmt.Errorf("attention: CosScale %v must be a finite number >= 0 (0 disables it)", p.CosScale)
	case p.Norm == SoftmaxPlus && !(p.Base > 1) || math.IsInf(p.Base, 0):
		return fmt.Errorf("attention: softmax_plus base %v must be a finite number > 1", p.Base)
	case !(p.RopeBase > 1) || math.IsInf(p.RopeBase, 0):
		return fmt.Errorf("attention: RoPE base %v must be a finite number > 1", p.RopeBase)
	case p.Window < 0:
		return fmt.Errorf("attention: window %d must be >= 0", p.Window)
	case p.Method.spec().Far == FarAtReRoPEWindow && p.ReRoPEWindow < 1:
		return fmt.Errorf("attention: ReRoPE window %d must be >= 1", p.ReRoPEWindow)
	case p.Sinks < 0:
		return fmt.Errorf("attention: sink count %d must be >= 0", p.Sinks)
	case !(p.ALiBiSlope >= 0) || math.IsInf(p.ALiBiSlope, 0):
		return fmt.Errorf("attention: ALiBi slope %v must be a finite number >= 0", p.ALiBiSlope)
	case p.TargetLen < 0:
		return fmt.Errorf("attention: target length %d must be >= 0", p.TargetLen)
	case p.Method.spec().Rotation == YaRNRamp && !(p.YaRNBetaFast > p.YaRNBetaSlow && p.YaRNBetaSlow > 0):
		return fmt.Errorf("attention: YaRN needs beta_fast > beta_slow > 0 (got %v, %v)", p.YaRNBetaFast, p.YaRNBetaSlow)
	}
	return nil
}

// ErrEmptyRow is returned (wrapped) by kernels when a query row has no key
// left after masking: softmax over nothing is undefined.
var ErrEmptyRow = errors.New("attention row has no unmasked key")

// Factor returns the normalisation factor c(n) that multiplies the logits of
// a row attending over n valid keys (with VisibleKeys, over the keys an
// interior row of a masking method keeps).
func (p Policy) Factor(n int) float64 {
	if p.VisibleKeys {
		n = p.VisibleKeyCount(n)
	}
	switch p.Norm {
	case SoftmaxPlus:
		if n < 1 {
			return 1
		}
		return math.Log(float64(n)) / math.Log(p.Base)
	case InfoScale:
		return InfoScaleFactor(n, p.TrainLen, p.KeySize)
	case YaRNTemp:
		if n <= p.TrainLen {
			return 1
		}
		m := 0.1*math.Log(float64(n)/float64(p.TrainLen)) + 1
		return m * m
	case Llama4Temp:
		if n <= p.TrainLen {
			return 1
		}
		return 1 + 0.1*math.Log1p(float64((n-1)/p.TrainLen))
	}
	return 1
}

// InfoScaleFactor is sqrt(1 - n^(-2/d)) / sqrt(1 - n0^(-2/d)): the
// temperature that keeps attention entropy invariant from length n0 to n for
// key size d. It is 1 at n = n0.
func InfoScaleFactor(n, n0, d int) float64 {
	if n < 2 {
		n = 2 // one key: every temperature gives the same distribution
	}
	num := -math.Expm1(-2 / float64(d) * math.Log(float64(n)))
	den := -math.Expm1(-2 / float64(d) * math.Log(float64(n0)))
	return math.Sqrt(num / den)
}

// VisibleKeyCount returns the number of keys an interior query row keeps
// in a sequence of n valid keys: min(n, 2r+1+S) for a masking method of
// radius r (n0−1 for StreamingLLM and LM-Infinite, the window W for
// windowed attention) and S sink columns (none for windowed attention); n
// for the methods that keep every pair. Rows within r of an end keep fewer
// keys (as few as r+1 plus the sinks) and sink rows keep all n: the count is
// the one most rows of a long sequence see.
func (p Policy) VisibleKeyCount(n int) int {
	if !p.hasMask() {
		return n
	}
	v := 2*p.maskRadius() + 1
	if p.Method.spec().Mask == Local {
		v += p.Sinks
	}
	return min(n, v)
}

// PressALiBiSlope converts Press et al.'s ALiBi slope m, which multiplies
// the distance on the scaled logits q·k/sqrt(d), to Policy.ALiBiSlope, the
// slope inside the kernels' bracket (q·k + bias)/sqrt(d): m·sqrt(d). With it
// the logit of a pair is c(n)·(q·k/sqrt(d) − m·|i−j|): the bias sits on the
// scaled logits as in Press et al., and the normalisation factor c(n)
// multiplies the whole logit, bias included, as it multiplies every logit.
func PressALiBiSlope(m float64, d int) float64 { return m * math.Sqrt(float64(d)) }

// Rotates reports whether the method rotates q and k (every method but ALiBi).
func (p Policy) Rotates() bool { return p.Method.spec().Rotation != NoRotation }

// scaleRatio is s = max(1, L/n0), the context extension factor, with L the
// target length when one is fixed, else the sequence length.
func (p Policy) scaleRatio(L int) float64 {
	if p.TargetLen > 0 {
		L = p.TargetLen
	}
	if L <= p.TrainLen {
		return 1
	}
	return float64(L) / float64(p.TrainLen)
}

// Scale returns the context-extension factor s used at sequence length L.
func (p Policy) Scale(L int) float64 { return p.scaleRatio(L) }

// Frequencies returns the rotation frequencies θ'_i, i = 0..d/2-1, used for a
// sequence of length L (PI, NTK and YaRN depend on L). It returns nil for
// methods that do not rotate.
func (p Policy) Frequencies(L int) []float64 {
	if !p.Rotates() {
		return nil
	}
	d := p.KeySize
	half := d / 2
	base := p.RopeBase
	s := p.scaleRatio(L)
	rot := p.Method.spec().Rotation
	if rot == NTKBase && s > 1 {
		base *= math.Pow(s, float64(d)/float64(d-2))
	}
	theta := make([]float64, half)
	for i := range theta {
		theta[i] = math.Pow(base, -2*float64(i)/float64(d))
	}
	switch {
	case rot == Interpolated && s > 1:
		for i := range theta {
			theta[i] /= s
		}
	case rot == YaRNRamp && s > 1:
		keep := p.yarnKeep()
		for i := range theta {
			theta[i] = theta[i]/s*(1-keep[i]) + theta[i]*keep[i]
		}
	}
	return theta
}

// yarnKeep returns, per frequency index, the share of the original
// (extrapolated) frequency that YaRN keeps: 1 for fast-rotating dimensions, 0
// for slow ones, a linear ramp between (the NTK-by-parts rule).
func (p Policy) yarnKeep() []float64 {
	d := float64(p.KeySize)
	corr := func(rot float64) float64 {
		return d * math.Log(float64(p.TrainLen)/(rot*2*math.Pi)) / (2 * math.Log(p.RopeBase))
	}
	low := math.Max(math.Floor(corr(p.YaRNBetaFast)), 0)
	high := math.Min(math.Ceil(corr(p.YaRNBetaSlow)), d-1)
	if low == high {
		high += 0.001
	}
	keep := make([]float64, p.KeySize/2)
	for i := range keep {
		r := (float64(i) - low) / (high - low)
		keep[i] = 1 - math.Min(math.Max(r, 0), 1)
	}
	return keep
}

// LogitMultiplier returns m, the factor on q̃·k̃ for a sequence of length L:
// YaRN's attention temperature mscale² with mscale = 0.1·ln(s) + 1, else 1.
func (p Policy) LogitMultiplier(L int) float64 {
	if p.Method.spec().Rotation != YaRNRamp {
		return 1
	}
	s := p.scaleRatio(L)
	if s <= 1 {
		return 1
	}
	ms := 0.1*math.Log(s) + 1
	return ms * ms
}

// hasMask reports whether the method removes query/key pairs.
func (p Policy) hasMask() bool {
	return p.Method.spec().Mask != KeepAll
}

// Masked reports whether the method removes query/key pairs (StreamingLLM,
// LM-Infinite, windowed attention).
func (p Policy) Masked() bool { return p.hasMask() }

// maskRadius is the largest |i-j| a masking method keeps outside its sinks.
func (p Policy) maskRadius() int {
	if p.Method.spec().Mask == Windowed {
		return p.Window
	}
	return p.TrainLen - 1
}

// Keep reports whether the pair (query i, key j) takes part in attention
// (before padding is applied).
func (p Policy) Keep(i, j int) bool {
	if !p.hasMask() {
		return true
	}
	if abs(i-j) <= p.maskRadius() {
		return true
	}
	return p.Method.spec().Mask == Local && (i < p.Sinks || j < p.Sinks)
}

// FarWindow returns the distance from which the clamped rotation applies, and
// whether the method has one: ReRoPE's w, LM-Infinite's n0. A pair with
// |i-j| >= w uses the distance clamped to ±(w-1) (sign kept).
func (p Policy) FarWindow() (int, bool) {
	switch p.Method.spec().Far {
	case FarAtReRoPEWindow:
		return p.ReRoPEWindow, true
	case FarAtTrainLength:
		return p.TrainLen, true
	}
	return 0, false
}

// Far reports whether the pair (i, j) uses the clamped rotation.
func (p Policy) Far(i, j int) bool {
	w, ok := p.FarWindow()
	return ok && abs(i-j) >= w
}

// Bias returns the additive term bias_ij of the pair (ALiBi's -slope·|i-j|).
func (p Policy) Bias(i, j int) float64 {
	if !p.Method.spec().Bias {
		return 0
	}
	return -p.ALiBiSlope * float64(abs(i-j))
}

// HasBias reports whether Bias can be non-zero.
func (p Policy) HasBias() bool { return p.Method.spec().Bias && p.ALiBiSlope != 0 }

// BlockClass says how a kernel must treat a block of query rows [i0, i1) and
// key columns [j0, j1).
type BlockClass int

const (
	// BlockSkip: every pair is masked.
	BlockSkip BlockClass = iota
	// BlockNear: every pair is kept and uses the normal rotated logit (a
	// bias may still apply).
	BlockNear
	// BlockFarBehind: every pair is kept, uses the clamped rotation, and has
	// its key behind the query (j < i).
	BlockFarBehind
	// BlockFarAhead: as BlockFarBehind with the key ahead (j > i).
	BlockFarAhead
	// BlockMixed: pairs differ; the kernel asks Keep and Far per element.
	BlockMixed
)

// Classify returns the class of the block [i0, i1) × [j0, j1) (both non-empty).
func (p Policy) Classify(i0, i1, j0, j1 int) BlockClass {
	// Distance range over the block.
	maxDist := max(abs(i1-1-j0), abs(j1-1-i0))
	minDist := 0
	if j0 >= i1 {
		minDist = j0 - (i1 - 1)
	} else if i0 >= j1 {
		minDist = i0 - (j1 - 1)
	}
	if p.hasMask() {
		r := p.maskRadius()
		sink := p.Method.spec().Mask == Local && (i0 < p.Sinks || j0 < p.Sinks)
		switch {
		case minDist > r && !sink:
			return BlockSkip
		case maxDist > r:
			return BlockMixed
		}
	}
	if w, ok := p.FarWindow(); ok {
		switch {
		case maxDist < w:
			return BlockNear
		case minDist >= w && j1 <= i0:
			return BlockFarBehind
		case minDist >= w && j0 >= i1:
			return BlockFarAhead
		default:
			return BlockMixed
		}
	}
	return BlockNear
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
