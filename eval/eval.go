// Package eval measures length extrapolation: the paper's exact protocol
// (one masked position per forward pass, every position of each test
// document), a faster protocol for CPUs and CI, and the scores they report
// (package metrics), as markdown tables and JSON.
package eval

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/graph"
	"github.com/infoscale/gaualpha/metrics"
	"github.com/infoscale/gaualpha/tokenizer"
)

// Protocol selects how masked positions are chosen.
type Protocol string

// The evaluation protocols.
const (
	// Paper is the paper's exact protocol: for every position p of a
	// document cut (or tiled) to length L, a copy with only p replaced by
	// [MASK]; L forward passes per document and length. Positions > 0
	// limits it to that many evenly spaced positions per document (still
	// one mask per pass).
	Paper Protocol = "paper"
	// Fast masks every Stride-th position at once (offset r) in one pass,
	// for Offsets evenly spread offsets r: Offsets passes per document and
	// length, Offsets/Stride of the positions scored, each with 1/Stride
	// of the context masked.
	Fast Protocol = "fast"
)

// ParseProtocol parses "paper" or "fast".
func ParseProtocol(s string) (Protocol, error) {
	switch Protocol(s) {
	case Paper, Fast:
		return Protocol(s), nil
	}
	return "", fmt.Errorf("unknown protocol %q (want paper or fast)", s)
}

// Options configure an evaluation.
type Options struct {
	Lengths  []int
	Protocol Protocol
	// Positions caps the positions per document under the paper protocol
	// (0: all L).
	Positions int
	// Stride and Offsets shape the fast protocol (defaults 32 and 4). At
	// short lengths more offsets are used so that each document still
	// contributes at least MinPerDoc scored positions (default 128; at most
	// every position).
	Stride, Offsets, MinPerDoc int
	// MaxTokens bounds the tokens of one forward pass (B·L); larger
	// lengths run one sequence at a time. Default 16384.
	MaxTokens int
	// MemoryBudget rejects lengths whose single-sequence forward pass
	// would need more bytes than this (0: 8 GiB).
	MemoryBudget int64
	// Progress receives one line per finished (variant, length).
	Progress io.Writer
	// KeepScores fills Result.Scores with the outcome of every scored
	// position (for paired per-position statistics).
	KeepScores bool
	// Backend runs the forward passes (nil: the CPU in float32). On a
	// device the weights are uploaded once per Evaluate and freed at its
	// end; only the batches go up and the logits come down.
	Backend backend.Backend
	// Comm shares the evaluation among the ranks of a group (nil: one
	// process): every rank calls Evaluate with the same arguments, runs a
	// contiguous share of the forward passes (the batches one process
	// runs, in its order, cut into shares of about equal work), and every
	// rank returns the same report, equal to one process's; Progress
	// lines come at the end.
	Comm collective.Comm
}

func (o *Options) defaults() {
	if o.Protocol == "" {
		o.Protocol = Fast
	}
	if o.Stride <= 0 {
		o.Stride = 32
	}
	if o.Offsets <= 0 {
		o.Offsets = 4
	}
	if o.MinPerDoc <= 0 {
		o.MinPerDoc = 128
	}
	if o.MaxTokens <= 0 {
		o.MaxTokens = 16384
	}
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = 8 << 30
	}
}

// Variant is one attention configuration to evaluate: the trained model's
// policy with some fields overridden.
type Variant struct {
	// Name labels the variant in tables ("softmax", "infoscale", ...).
	Name string
	// Policy is the full attention policy used at every length.
	Policy attn.Policy
}

// Result is the score of one variant at one length.
type Result struct {
	Variant  string        `json:"variant"`
	Length   int           `json:"length"`
	Accuracy float64       `json:"accuracy"`
	Loss     float64       `json:"loss"`
	PPL      float64       `json:"perplexity"`
	Tally    metrics.Tally `json:"tally"`
	Seconds  float64       `json:"seconds"`
	// Scores are the outcomes of the scored positions, ordered by
	// document and position (only with Options.KeepScores); Tally is their
	// sum.
	Scores []Score `json:"scores,omitempty"`
}

// Score is the outcome of one scored (masked) position.
type Score struct {
	// Doc is the test document's index in the evaluated documents, Pos the
	// masked position in its copy tiled or cut to the length.
	Doc int `json:"doc"`
	Pos int `json:"pos"`
	// Pred is the predicted token (the argmax over the whole vocabulary,
	// the first of equal maxima), Correct whether it is the target.
	Pred    int  `json:"pred"`
	Correct bool `json:"correct"`
	// Loss is the cross-entropy of the target.
	Loss float64 `json:"loss"`
}

// Report is a whole evaluation.
type Report struct {
	Protocol  Protocol `json:"protocol"`
	Positions int      `json:"positions_per_document,omitempty"`
	Stride    int      `json:"stride,omitempty"`
	Offsets   int      `json:"offsets,omitempty"`
	MinPerDoc int      `json:"min_per_document,omitempty"`
	Documents int      `json:"documents"`
	TrainLen  int      `json:"train_length"`
	// Precision is "bf16" for a bfloat16-input evaluation (else empty:
	// float32).
	Precision string   `json:"precision,omitempty"`
	Variants  []string `json:"variants"`
	Lengths   []int    `json:"lengths"`
	Results   []Result `json:"results"`
	Seconds   float64  `json:"seconds"`
}

// job is one forward-pass row: a token sequence (of test document doc) and
// the positions masked in it.
type job struct {
	doc int
	ids []int
	pos []int
}

// Tile returns doc repeated as needed and cut to L tokens (the paper tiles
// documents shorter than the evaluation length).
func Tile(doc []int, L int) []int {
	out := make([]int, 0, L)
	for len(out) < L {
		out = append(out, doc[:min(len(doc), L-len(out))]...)
	}
	return out
}

// jobs lists the masked copies a protocol makes of docs at length L.
func jobs(docs [][]int, L int, o Options) []job {
	var js []job
	for di, d := range docs {
		ids := Tile(d, L)
		switch o.Protocol {
		case Paper:
			n := L
			if o.Positions > 0 {
				n = min(L, o.Positions)
			}
			for k := 0; k < n; k++ {
				p := k * L / n
				if n < L {
					p = (2*k + 1) * L / (2 * n) // centred in its stretch
				}
				js = append(js, job{doc: di, ids: ids, pos: []int{p}})
			}
		default:
			S := min(o.Stride, L)
			perPass := (L + S - 1) / S
			R := min(S, max(o.Offsets, (o.MinPerDoc+perPass-1)/perPass))
			for k := 0; k < R; k++ {
				r := (2*k + 1) * S / (2 * R)
				var pos []int
				for p := r; p < L; p += S {
					pos = append(pos, p)
				}
				js = append(js, job{doc: di, ids: ids, pos: pos})
			}
		}
	}
	return js
}

// EstimateBytes is a rough upper bound on the memory of one forward pass of
// B sequences of length L: the live activations of a layer (input, swish
// output, attention output, gated and projected values) plus the attention
// kernel's per-row vectors, in float32.
func EstimateBytes(cfg gau.Config, B, L int) int64 {
	rows := int64(B) * int64(L)
	h, e, d := int64(cfg.HiddenSize), int64(cfg.IntermediateSize), int64(cfg.KeySize)
	perRow := 3*h + (2*e + d) + (e + 1) + e + 8*d
	return rows*perRow*4 + int64(cfg.VocabSize*cfg.HiddenSize)*4
}

// Evaluate scores every variant at every length on the tokenised test
// documents docs (no special tokens) with the paper or fast protocol.
func Evaluate(ctx context.Context, cfg gau.Config, p *gau.Params, v *tokenizer.Vocab, docs [][]int, variants []Variant, o Options) (rep *Report, err error) {
	o.defaults()
	if len(docs) == 0 {
		return nil, fmt.Errorf("evaluation: no test documents")
	}
	for i, d := range docs {
		if len(d) == 0 {
			return nil, fmt.Errorf("evaluation: test document %d has no tokens", i)
		}
	}
	if len(o.Lengths) == 0 {
		return nil, fmt.Errorf("evaluation: no lengths")
	}
	for _, L := range o.Lengths {
		if L < 2 {
			return nil, fmt.Errorf("evaluation: length %d too short", L)
		}
		if need := EstimateBytes(cfg, 1, L); need > o.MemoryBudget {
			return nil, fmt.Errorf("evaluation: length %d needs about %.1f GiB per sequence, over the memory budget of %.1f GiB", L, float64(need)/(1<<30), float64(o.MemoryBudget)/(1<<30))
		}
	}
	be := o.Backend
	if be == nil {
		be = backend.Default()
	}
	defer func() {
		if derr := be.Drop(p.Tensors()...); err == nil && derr != nil {
			rep, err = nil, derr
		}
	}()
	rep = &Report{Protocol: o.Protocol, Documents: len(docs), TrainLen: cfg.TrainLength, Lengths: o.Lengths}
	if be.Precision() == backend.BF16 {
		rep.Precision = string(backend.BF16)
	}
	if o.Protocol == Paper {
		rep.Positions = o.Positions
	} else {
		rep.Stride, rep.Offsets, rep.MinPerDoc = o.Stride, o.Offsets, o.MinPerDoc
	}
	for _, va := range variants {
		rep.Variants = append(rep.Variants, va.Name)
	}
	start := time.Now()
	for _, va := range variants {
		if err := va.Policy.Validate(); err != nil {
			return nil, fmt.Errorf("evaluation: variant %s: %w", va.Name, err)
		}
	}
	c := o.Comm
	if c == nil {
		c = collective.Single{}
	}
	units := plan(cfg, docs, variants, o)
	lo, hi := assign(units, c.Rank(), c.Size())
	done := make([]unitResult, len(units))
	// finish turns the results of the units of (variant vi, length li),
	// in order, into its Result.
	finish := func(vi, li int) {
		var tl metrics.Tally
		var sc []Score
		var secs float64
		for i, u := range units {
			if u.variant != vi || u.length != li {
				continue
			}
			secs += done[i].seconds
			k := 0
			for _, j := range u.jobs {
				for _, q := range j.pos {
					out := done[i].outcomes[k]
					k++
					// One position at a time: tl's sums are the same
					// additions in the same order as Tally.Add's.
					tl.Merge(metrics.Tally{Count: 1, Correct: b2i(out.correct), SumLoss: out.loss})
					if o.KeepScores {
						sc = append(sc, Score{Doc: j.doc, Pos: q, Pred: out.pred, Correct: out.correct, Loss: out.loss})
					}
				}
			}
		}
		slices.SortStableFunc(sc, func(a, b Score) int {
			if a.Doc != b.Doc {
				return a.Doc - b.Doc
			}
			return a.Pos - b.Pos
		})
		r := Result{Variant: variants[vi].Name, Length: o.Lengths[li], Accuracy: tl.Accuracy(), Loss: tl.Loss(), PPL: tl.Perplexity(),
			Tally: tl, Seconds: secs, Scores: sc}
		rep.Results = append(rep.Results, r)
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "eval %-14s L=%-6d acc %.4f  loss %.4f  (%d tokens, %.1fs)\n", r.Variant, r.Length, r.Accuracy, r.Loss, tl.Count, r.Seconds)
		}
	}
	var run runners
	defer func() {
		if cerr := run.close(); err == nil && cerr != nil {
			rep, err = nil, cerr
		}
	}()
	for i := lo; i < hi; i++ {
		u := units[i]
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if done[i], err = run.score(be, cfg, p, v, u.variant, variants[u.variant].Policy, o.Lengths[u.length], u.jobs); err != nil {
			return nil, fmt.Errorf("evaluation: %s at length %d: %w", variants[u.variant].Name, o.Lengths[u.length], err)
		}
		if c.Size() == 1 && (i+1 == len(units) || units[i+1].variant != u.variant || units[i+1].length != u.length) {
			finish(u.variant, u.length)
		}
	}
	if c.Size() > 1 {
		if err := share(c, done, lo, hi); err != nil {
			return nil, fmt.Errorf("evaluation: %w", err)
		}
		for vi := range variants {
			for li := range o.Lengths {
				finish(vi, li)
			}
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// unit is one forward pass of the evaluation: a batch of jobs of one
// variant at one length, the piece of work a rank takes.
type unit struct {
	variant, length int // indices in the variants and Options.Lengths
	jobs            []job
	cost            float64 // relative
}

// outcome is one scored position's: the predicted token, whether it is
// the target, the target's cross-entropy.
type outcome struct {
	pred    int
	correct bool
	loss    float64
}

// unitResult is what a unit's forward pass produced: its scored
// positions' outcomes, in job order, and the seconds it took.
type unitResult struct {
	outcomes []outcome
	seconds  float64
}

// plan lists the forward passes of an evaluation in the order one process
// runs them: by variant, length, then batch. Batches hold as many jobs as
// Options.MaxTokens and the memory budget allow, whatever the number of
// ranks, so that every rank runs exactly the batches one process would.
func plan(cfg gau.Config, docs [][]int, variants []Variant, o Options) []unit {
	var us []unit
	for vi := range variants {
		for li, L := range o.Lengths {
			js := jobs(docs, L, o)
			B := max(1, min(len(js), o.MaxTokens/L))
			for B > 1 && EstimateBytes(cfg, B, L) > o.MemoryBudget {
				B /= 2
			}
			// Multiply-adds per token: the layers' projections, and the
			// attention's scores and weighted sums over the L keys.
			h, e, d := float64(cfg.HiddenSize), float64(cfg.IntermediateSize), float64(cfg.KeySize)
			perToken := float64(cfg.NumLayers) * (h*(3*e+d) + float64(L)*(d+e))
			for s := 0; s < len(js); s += B {
				b := js[s:min(s+B, len(js))]
				us = append(us, unit{variant: vi, length: li, jobs: b, cost: float64(len(b)*L) * perToken})
			}
		}
	}
	return us
}

// assign returns the range [lo, hi) of the units that rank runs of a
// group of size: contiguous in plan order, cut where the running sum of
// the cost crosses a multiple of the total's size-th part (a unit goes to
// the rank its middle falls in).
func assign(us []unit, rank, size int) (lo, hi int) {
	var total float64
	for _, u := range us {
		total += u.cost
	}
	owner := func(i int, before float64) int {
		if !(total > 0) {
			return i * size / len(us)
		}
		return min(size-1, int(float64(size)*(before+us[i].cost/2)/total))
	}
	lo, hi = -1, -1
	var before float64
	for i := range us {
		if r := owner(i, before); r == rank {
			if lo < 0 {
				lo = i
			}
			hi = i + 1
		}
		before += us[i].cost
	}
	if lo < 0 {
		return 0, 0
	}
	return lo, hi
}

// share sends every rank's unit results [lo, hi) to rank 0, which sends
// them all to every rank (so that every rank returns the same report).
func share(c collective.Comm, done []unitResult, lo, hi int) error {
	var buf []byte
	for i := lo; i < hi; i++ {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(i))
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(done[i].seconds))
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(done[i].outcomes)))
		for _, o := range done[i].outcomes {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(o.pred))
			buf = append(buf, byte(b2i(o.correct)))
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(o.loss))
		}
	}
	parts, err := c.Gather(buf, 0)
	if err != nil {
		return err
	}
	all, err := collective.BroadcastBytes(c, slices.Concat(parts...), 0)
	if err != nil {
		return err
	}
	for len(all) > 0 {
		if len(all) < 16 {
			return fmt.Errorf("gathered scores: %d stray bytes", len(all))
		}
		i := int(binary.LittleEndian.Uint32(all))
		secs := math.Float64frombits(binary.LittleEndian.Uint64(all[4:]))
		n := int(binary.LittleEndian.Uint32(all[12:]))
		all = all[16:]
		if i >= len(done) || len(all) < 13*n {
			return fmt.Errorf("gathered scores: unit %d of %d with %d positions in %d bytes", i, len(done), n, len(all))
		}
		r := unitResult{seconds: secs, outcomes: make([]outcome, n)}
		for k := range r.outcomes {
			r.outcomes[k] = outcome{pred: int(binary.LittleEndian.Uint32(all)), correct: all[4] == 1, loss: math.Float64frombits(binary.LittleEndian.Uint64(all[5:]))}
			all = all[13:]
		}
		done[i] = r
	}
	for i, d := range done {
		if d.outcomes == nil {
			return fmt.Errorf("gathered scores: no rank scored unit %d", i)
		}
	}
	return nil
}

// runner is the model graph of one batch shape and its executor.
type runner struct {
	m      *gau.Model
	ex     graph.Executor
	logits []float32
}

func newRunner(be backend.Backend, cfg gau.Config, p *gau.Params, opt gau.Options) (*runner, error) {
	m, err := gau.Build(cfg, p, opt)
	if err != nil {
		return nil, err
	}
	ex, err := be.Executor(m.Graph, m.Outputs()...)
	if err != nil {
		return nil, err
	}
	return &runner{m: m, ex: ex}, nil
}

// run returns the MLM head's logits [M, vocab] of one batch (valid until
// the next run).
func (r *runner) run(bt *gau.Batch) ([]float32, error) {
	if err := r.m.Run(r.ex, bt); err != nil {
		return nil, err
	}
	var err error
	r.logits, err = r.ex.Float32s(r.m.Logits, r.logits)
	return r.logits, err
}

func (r *runner) close() error { return r.ex.Close() }

// runners keeps the runner of the last variant and batch shape, for the
// next unit of the same.
type runners struct {
	r                *runner
	variant, B, L, M int
}

func (rs *runners) close() error {
	if rs.r == nil {
		return nil
	}
	err := rs.r.close()
	rs.r = nil
	return err
}

// score runs one batch of jobs at length L under pol (the policy of
// variant number variant) and returns the
// outcome of every scored position, in job order.
func (rs *runners) score(be backend.Backend, cfg gau.Config, p *gau.Params, v *tokenizer.Vocab, variant int, pol attn.Policy, L int, batch []job) (unitResult, error) {
	t0 := time.Now()
	// The positions scored: the jobs of the fast protocol at a length that
	// is not a multiple of the stride mask one position more at the
	// smaller offsets.
	M := 0
	for _, j := range batch {
		M += len(j.pos)
	}
	if rs.r == nil || rs.B != len(batch) || rs.L != L || rs.M != M || rs.variant != variant {
		if err := rs.close(); err != nil {
			return unitResult{}, err
		}
		r, err := newRunner(be, cfg, p, gau.Options{Shape: gau.Shape{B: len(batch), L: L, M: M}, Policy: pol})
		if err != nil {
			return unitResult{}, err
		}
		rs.r, rs.B, rs.L, rs.M, rs.variant = r, len(batch), L, M, variant
	}
	bt := &gau.Batch{}
	var targets []int
	for b, j := range batch {
		row := append([]int(nil), j.ids...)
		for _, q := range j.pos {
			targets = append(targets, row[q])
			row[q] = v.Mask()
			bt.Select = append(bt.Select, b*L+q)
		}
		bt.IDs = append(bt.IDs, row...)
	}
	logits, err := rs.r.run(bt)
	if err != nil {
		return unitResult{}, err
	}
	V := cfg.VocabSize
	res := unitResult{outcomes: make([]outcome, len(targets))}
	for r := range targets {
		row := logits[r*V : (r+1)*V]
		var one metrics.Tally
		one.Add(row, targets[r:r+1], V)
		res.outcomes[r] = outcome{pred: argmax(row), correct: one.Correct == 1, loss: one.SumLoss}
	}
	res.seconds = time.Since(t0).Seconds()
	return res, nil
}

// argmax returns the index of the first maximum of row (metrics.Tally's
// rule for the predicted token).
func argmax(row []float32) int {
	best := 0
	mx := math.Inf(-1)
	for i, x := range row {
		if float64(x) > mx {
			mx, best = float64(x), i
		}
	}
	return best
}

// Markdown renders the report as a table: one row per length, accuracy and
// loss per variant.
func (r *Report) Markdown() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "| length | × n0 |")
	for _, va := range r.Variants {
		fmt.Fprintf(&sb, " %s acc | %s loss |", va, va)
	}
	sb.WriteString("\n|---:|---:|")
	for range r.Variants {
		sb.WriteString("---:|---:|")
	}
	sb.WriteString("\n")
	for _, L := range r.Lengths {
		fmt.Fprintf(&sb, "| %d | %gx |", L, float64(L)/float64(r.TrainLen))
		for _, va := range r.Variants {
			for _, res := range r.Results {
				if res.Variant == va && res.Length == L {
					fmt.Fprintf(&sb, " %.4f | %.3f |", res.Accuracy, res.Loss)
				}
			}
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

// Describe says how the numbers were produced, in one line.
func (r *Report) Describe() string {
	return fmt.Sprintf("%s, %.0fs", r.Setup(), r.Seconds)
}

// Setup describes the protocol, the test documents and the training length
// (Describe without the wall time).
func (r *Report) Setup() string {
	var proto string
	if r.Protocol == Paper {
		pos := "every position"
		if r.Positions > 0 {
			pos = fmt.Sprintf("%d evenly spaced positions", r.Positions)
		}
		proto = fmt.Sprintf("paper protocol (one [MASK] per pass, %s per document)", pos)
	} else {
		proto = fmt.Sprintf("fast protocol (one token in %d masked per pass; %d passes per document at offsets spread over the stride, more at short lengths so that at least %d positions per document are scored)",
			r.Stride, r.Offsets, r.MinPerDoc)
	}
	prec := ""
	if r.Precision != "" {
		prec = ", " + r.Precision + " inputs (float32 accumulation)"
	}
	return fmt.Sprintf("%s, %d test documents, training length %d%s", proto, r.Documents, r.TrainLen, prec)
}

// Get returns the result of a variant at a length.
func (r *Report) Get(variant string, L int) (Result, bool) {
	for _, res := range r.Results {
		if res.Variant == variant && res.Length == L {
			return res, true
		}
	}
	return Result{Loss: math.NaN()}, false
}

// JSON returns the report as indented JSON.
func (r *Report) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
