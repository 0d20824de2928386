package gau

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/graph"
)

// The CPU executor's fused kernels give the results of the steps they
// replace: a training graph (dropout on, loss and gradients) run by a Machine with
// its fusions and by one without gives the same loss and gradients, bit for
// bit, in float32 and float64; and the fusions do fire (the attention
// backward takes the gate's gradient and leaves the u columns of its dX,
// which the fused GatedSwishGrad does not read, unwritten).
func TestMachineFusionSameBits(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		rng := rand.New(rand.NewPCG(3, 3))
		cfg := tinyConfig()
		cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize = 16, 40, 32 // key rows in whole vectors
		cfg.HiddenDropout, cfg.AttentionDropout = 0.2, 0.2
		p := InitParams(cfg, dt, rng)
		pol, err := cfg.Policy("")
		if err != nil {
			t.Fatal(err)
		}
		const B, L, M = 3, 9, 7
		m, err := Build(cfg, p, Options{Shape: Shape{B: B, L: L, M: M}, Policy: pol, Train: true, Loss: true, Grad: true})
		if err != nil {
			t.Fatal(err)
		}
		bt := tinyBatch(rng, cfg, B, L, M)
		run := func(unfused, bf16 bool) ([][]uint64, *graph.Machine) {
			mach, err := graph.NewMachine(m.Graph, m.Outputs()...)
			if err != nil {
				t.Fatal(err)
			}
			mach.Unfused = unfused
			mach.Profile = &graph.OpProfile{}
			var out [][]uint64
			for rep := 0; rep < 2; rep++ { // the second run reuses the pooled buffers
				// The precision switched after the first run, as a
				// backend may: the fused kernels follow it.
				mach.BF16 = bf16 && rep == 1
				if err := m.Run(mach, bt); err != nil {
					t.Fatal(err)
				}
			}
			loss, err := mach.Float(m.Loss)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, []uint64{math.Float64bits(loss)})
			for _, g := range m.Grads {
				var bits []uint64
				switch v := mach.Value(g).Data().(type) {
				case []float32:
					for _, x := range v {
						bits = append(bits, uint64(math.Float32bits(x)))
					}
				case []float64:
					for _, x := range v {
						bits = append(bits, math.Float64bits(x))
					}
				}
				out = append(out, bits)
			}
			return out, mach
		}
		fused, fm := run(false, false)
		for _, bf16 := range []bool{false, true} {
			if bf16 && dt != tensor.Float32 {
				continue
			}
			f, _ := run(false, bf16)
			plain, _ := run(true, bf16)
			for i := range plain {
				for j := range plain[i] {
					if f[i][j] != plain[i][j] {
						t.Fatalf("%v bf16=%v: output %d element %d differs between the fused and the unfused machine", dt, bf16, i, j)
					}
				}
			}
		}
		_ = fused
		fusions := map[string]int{}
		for _, o := range fm.Profile.ByOp(fm.Plan()) {
			for _, name := range []string{"GatedSwishGrad", "Attention+Gate", "DropoutAddNorm", "AttentionGrad+GateGrad"} {
				if strings.HasPrefix(o.Op, name) {
					fusions[name] += o.Count
				}
			}
		}
		skipU := 0
		for _, o := range fm.Profile.ByOp(fm.Plan()) {
			if strings.HasPrefix(o.Op, "AttentionGrad+GateGrad") && strings.HasSuffix(o.Op, "[dX's u columns unwritten]") {
				skipU += o.Count
			}
		}
		if skipU != cfg.NumLayers {
			t.Errorf("%v: %d attention backwards leave dX's u columns unwritten, want one per layer (%d)", dt, skipU, cfg.NumLayers)
		}
		for name, n := range fusions {
			if n != cfg.NumLayers {
				t.Errorf("%v: %d fused %s, want one per layer (%d)", dt, n, name, cfg.NumLayers)
			}
		}
		if len(fusions) != 4 {
			t.Errorf("%v: fusions %v, want GatedSwishGrad, Attention+Gate, AttentionGrad+GateGrad and DropoutAddNorm", dt, fusions)
		}
	}
}
