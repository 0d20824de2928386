package backend

import (
	"fmt"
	"math"
	"sync"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/graph"
	"github.com/infoscale/gaualpha/optim"
	"github.com/infoscale/gaualpha/pipeline"
)

// The data-parallel test's model: logits = x·wᵀ (w [V, K], x [M, K]) and
// the mean cross-entropy over the rows with a target, the shape of the
// masked-LM head and its loss.
const dpV, dpK = 6, 4

// dpLoss builds the graph of the loss of rows x (M×K, row-major) and their
// targets, with w as its weights.
func dpLoss(t *testing.T, w *tensor.Dense, x []float32, targets []int) (*G.ExprGraph, *G.Node, *G.Node) {
	t.Helper()
	b := graph.NewBuilder()
	M := len(targets)
	wn := b.Input("w", tensor.Float32, w.Shape(), w)
	xn := b.Input("x", tensor.Float32, tensor.Shape{M, dpK}, tensor.New(tensor.WithShape(M, dpK), tensor.WithBacking(x)))
	tn := b.Input("targets", tensor.Int, tensor.Shape{M}, tensor.New(tensor.WithShape(M), tensor.WithBacking(targets)))
	loss := b.CrossEntropy(b.Linear(xn, wn), tn)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	grads, err := G.Grad(loss, wn)
	if err != nil {
		t.Fatal(err)
	}
	return b.G, loss, grads[0]
}

// dpRows returns rank r's rows and targets: r+2 rows, one of them without
// a target on even ranks, so the ranks' counts differ.
func dpRows(r int) ([]float32, []int) {
	M := r + 2
	x := make([]float32, M*dpK)
	for i := range x {
		x[i] = float32((r*7+i*3)%11)/4 - 1
	}
	tg := make([]int, M)
	for i := range tg {
		tg[i] = (r + 2*i) % dpV
	}
	if r%2 == 0 {
		tg[0] = pipeline.IgnoreTarget
	}
	return x, tg
}

// dpW0 returns the first weights.
func dpW0() []float32 {
	w := make([]float32, dpV*dpK)
	for i := range w {
		w[i] = float32((i*5)%9)/8 - 0.5
	}
	return w
}

// checkDataParallel runs three steps on n ranks, each with its own rows
// and the backend open(r) makes, its share the count of its rows with a
// target over the count of all, and compares every rank's loss, gradient
// norm and weights with one process stepping on the whole batch (all
// ranks' rows) on the CPU, and the ranks' weights with each other (equal
// to the last bit).
func checkDataParallel(t *testing.T, n int, open func(rank int) (Backend, error)) {
	t.Helper()
	w0 := dpW0()
	var allX []float32
	var allT []int
	counts, total := make([]int, n), 0
	for r := range n {
		x, tg := dpRows(r)
		allX, allT = append(allX, x...), append(allT, tg...)
		for _, v := range tg {
			if v != pipeline.IgnoreTarget {
				counts[r]++
				total++
			}
		}
	}
	type step struct {
		loss, norm float64
		w          []float32
	}
	var want []step
	{
		w := tensor.New(tensor.WithShape(dpV, dpK), tensor.WithBacking(append([]float32(nil), w0...)))
		g, loss, grad := dpLoss(t, w, allX, allT)
		be := Default()
		ex, err := be.Executor(g, loss, grad)
		if err != nil {
			t.Fatal(err)
		}
		o, err := be.Optimizer(ex, loss, []*tensor.Dense{w}, []*G.Node{grad}, optim.NewAdamW([]int{dpV * dpK}, []bool{true}, 0.01), 0.5, nil)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := ex.Run(); err != nil {
				t.Fatal(err)
			}
			l, norm, err := o.Step(1e-2, 1)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, step{l, norm, append([]float32(nil), w.Data().([]float32)...)})
		}
	}
	var mu sync.Mutex
	weights := map[int][]float32{}
	err := collective.RunLocal(n, func(c collective.Comm) error {
		r := c.Rank()
		be, err := open(r)
		if err != nil {
			return err
		}
		defer be.Close()
		w := tensor.New(tensor.WithShape(dpV, dpK), tensor.WithBacking(append([]float32(nil), w0...)))
		x, tg := dpRows(r)
		g, loss, grad := dpLoss(t, w, x, tg)
		ex, err := be.Executor(g, loss, grad)
		if err != nil {
			return err
		}
		defer ex.Close()
		opt := optim.NewAdamW([]int{dpV * dpK}, []bool{true}, 0.01)
		o, err := be.Optimizer(ex, loss, []*tensor.Dense{w}, []*G.Node{grad}, opt, 0.5, c)
		if err != nil {
			return err
		}
		defer o.Close()
		for k, st := range want {
			if err := ex.Run(); err != nil {
				return err
			}
			l, norm, err := o.Step(1e-2, float64(counts[r])/float64(total))
			if err != nil {
				return err
			}
			if err := o.Pull(); err != nil {
				return err
			}
			if math.Abs(l-st.loss) > 1e-6*st.loss || math.Abs(norm-st.norm) > 1e-6*st.norm {
				return fmt.Errorf("step %d: loss %v norm %v, one process on the whole batch %v %v", k+1, l, norm, st.loss, st.norm)
			}
			for i, v := range w.Data().([]float32) {
				if math.Abs(float64(v-st.w[i])) > 1e-6 {
					return fmt.Errorf("step %d: w[%d] = %v, one process on the whole batch %v", k+1, i, v, st.w[i])
				}
			}
		}
		mu.Lock()
		weights[r] = append([]float32(nil), w.Data().([]float32)...)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for r := 1; r < n; r++ {
		for i := range weights[0] {
			if weights[r][i] != weights[0][i] {
				t.Errorf("rank %d's w[%d] = %v, rank 0's %v", r, i, weights[r][i], weights[0][i])
			}
		}
	}
}

// The CPU optimiser in a group of 2 and 3 ranks steps as one process on
// the whole batch.
func TestDataParallelCPU(t *testing.T) {
	for _, n := range []int{2, 3} {
		checkDataParallel(t, n, func(int) (Backend, error) { return Default(), nil })
	}
}

// Shares that do not weight the ranks' means by their counts give another
// step: the test above can fail.
func TestDataParallelWrongShares(t *testing.T) {
	want := func() float64 {
		var x []float32
		var tg []int
		for r := range 2 {
			xr, tr := dpRows(r)
			x, tg = append(x, xr...), append(tg, tr...)
		}
		w := tensor.New(tensor.WithShape(dpV, dpK), tensor.WithBacking(dpW0()))
		g, loss, grad := dpLoss(t, w, x, tg)
		ex, err := Default().Executor(g, loss, grad)
		if err != nil {
			t.Fatal(err)
		}
		if err := ex.Run(); err != nil {
			t.Fatal(err)
		}
		l, err := ex.(*graph.Machine).Float(loss)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}()
	var got float64
	err := collective.RunLocal(2, func(c collective.Comm) error {
		w := tensor.New(tensor.WithShape(dpV, dpK), tensor.WithBacking(dpW0()))
		x, tg := dpRows(c.Rank())
		g, loss, grad := dpLoss(t, w, x, tg)
		be := Default()
		ex, err := be.Executor(g, loss, grad)
		if err != nil {
			return err
		}
		o, err := be.Optimizer(ex, loss, []*tensor.Dense{w}, []*G.Node{grad}, optim.NewAdamW([]int{dpV * dpK}, []bool{true}, 0), 0, c)
		if err != nil {
			return err
		}
		if err := ex.Run(); err != nil {
			return err
		}
		l, _, err := o.Step(1e-2, 0.5) // the mean of the ranks' means
		if c.Rank() == 0 {
			got = l
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-want) < 1e-3 {
		t.Errorf("the mean of the ranks' means, %v, equals the whole batch's mean %v: the data cannot tell the shares apart", got, want)
	}
}
