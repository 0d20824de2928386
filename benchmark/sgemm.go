package benchmark

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/infoscale/gaualpha/kernels/gemm"
)

// Case kinds timing the matrix product alone.
const (
	kindSgemm     = "sgemm"      // Sgemm with one kernel at the paper layer's shapes
	kindSgemmBF16 = "sgemm_bf16" // SgemmBF16 at the same shapes
)

// sgemmShape is one product: op(A) m×k times op(B) k×n.
type sgemmShape struct {
	name           string
	transA, transB bool
	m, n, k        int
}

// sgemmCases are the SGEMM cases, which join the table after the model
// cases: one per assembly kernel this CPU runs (the pure Go kernel only
// where there is none) and one for the bfloat16 products.
func sgemmCases() []Case {
	var out []Case
	var kernels []gemm.KernelInfo
	for _, k := range gemm.Kernels() {
		if k.Supported && k.Needs != "" {
			kernels = append(kernels, k)
		}
	}
	if len(kernels) == 0 {
		for _, k := range gemm.Kernels() {
			if k.Default {
				kernels = append(kernels, k)
			}
		}
	}
	const noTorch = "the SGEMM cases time the Go kernels against the machine's peak, not against PyTorch"
	for _, k := range kernels {
		out = append(out, Case{
			Name: "sgemm_" + strings.ReplaceAll(k.Name, "-", "_"), Kind: kindSgemm, Model: "paper", B: 8, L: 512,
			Warmup: 1, Runs: 5, NoTorch: noTorch, kernel: k.Name,
			Desc: fmt.Sprintf("SGEMM, kernel %s: the six linear-layer products of layer_fwdbwd (4096 tokens)", k.Name),
		})
	}
	out = append(out, Case{
		Name: "sgemm_bf16", Kind: kindSgemmBF16, Model: "paper", B: 8, L: 512,
		Warmup: 1, Runs: 5, NoTorch: noTorch,
		Desc: fmt.Sprintf("SgemmBF16 (bfloat16 products, float32 sums; %s) at the same shapes", gemm.BF16Kernel()),
	})
	return out
}

// prepareSgemm allocates random operands for the layer's products and
// times them, one after the other, with the case's kernel (Sgemm's
// parallel split over GOMAXPROCS goroutines).
func prepareSgemm(c Case) (*Prepared, error) {
	cfg, _, err := c.modelConfig()
	if err != nil {
		return nil, err
	}
	shapes := layerShapes(cfg, c.B*c.L)
	rng := rand.New(rand.NewPCG(3, 4))
	type operands struct{ a, b, c []float32 }
	ops := make([]operands, len(shapes))
	for i, s := range shapes {
		ops[i] = operands{randn(rng, s.m*s.k, 1), randn(rng, s.k*s.n, 1), make([]float32, s.m*s.n)}
	}
	ld := func(rows, cols int, trans bool) int {
		if trans {
			return rows
		}
		return cols
	}
	step := func() error {
		for i, s := range shapes {
			o := ops[i]
			lda, ldb := ld(s.m, s.k, s.transA), ld(s.k, s.n, s.transB)
			if c.Kind == kindSgemmBF16 {
				gemm.SgemmBF16(s.transA, s.transB, s.m, s.n, s.k, 1, o.a, lda, o.b, ldb, 0, o.c, s.n)
				continue
			}
			if err := gemm.SgemmWith(c.kernel, s.transA, s.transB, s.m, s.n, s.k, 1, o.a, lda, o.b, ldb, 0, o.c, s.n); err != nil {
				return err
			}
		}
		return nil
	}
	return &Prepared{Step: step}, nil
}
