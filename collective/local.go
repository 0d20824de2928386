package collective

import (
	"errors"
	"fmt"
	"sync"
)

// NewLocal returns the members of an in-process group of n, one for each
// goroutine that plays a rank (rank i is element i). Their collectives
// meet in shared memory: sums are added in rank order, so every member
// receives the same values, and a call whose kind, length or root differs
// from rank 0's fails on every member. It exists for tests: one process
// plays the group that mpirun would start.
func NewLocal(n int) []Comm {
	if n < 1 {
		panic(fmt.Sprintf("collective: a group of %d members", n))
	}
	g := &localGroup{size: n, calls: make([]call, n)}
	g.cond = sync.NewCond(&g.mu)
	cs := make([]Comm, n)
	for r := range cs {
		cs[r] = &localComm{g: g, rank: r}
	}
	return cs
}

// RunLocal runs f on each member of a new Local group of n, in n
// goroutines, closes each member when its f returns (so that a member that
// fails releases the others with ErrLeft) and returns the members' errors,
// each naming its rank, joined.
func RunLocal(n int, f func(c Comm) error) error {
	cs := NewLocal(n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := f(c)
			if cerr := c.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				errs[r] = fmt.Errorf("rank %d: %w", r, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// localGroup is the shared state of a Local group: one round of a
// collective at a time, completed by its last member to arrive.
type localGroup struct {
	mu       sync.Mutex
	cond     *sync.Cond
	size     int
	gen      uint64 // rounds completed
	arrived  int
	calls    []call // this round's, by rank
	roundErr error  // the last completed round's error
	left     error  // set when a member has closed
}

// call is one member's part in a round.
type call struct {
	op   string
	f32  []float32
	f64  []float64
	b    []byte
	root int
	out  *[][]byte
}

type localComm struct {
	g      *localGroup
	rank   int
	closed bool
}

func (c *localComm) Rank() int      { return c.rank }
func (c *localComm) Size() int      { return c.g.size }
func (c *localComm) LocalRank() int { return c.rank }

func (c *localComm) AllReduceSum32(buf []float32) error {
	return c.round(call{op: "AllReduceSum32", f32: buf})
}

func (c *localComm) AllReduceSum64(buf []float64) error {
	return c.round(call{op: "AllReduceSum64", f64: buf})
}

func (c *localComm) Broadcast(buf []byte, root int) error {
	if err := checkRoot(root, c.g.size); err != nil {
		return err
	}
	return c.round(call{op: "Broadcast", b: buf, root: root})
}

func (c *localComm) Gather(data []byte, root int) ([][]byte, error) {
	if err := checkRoot(root, c.g.size); err != nil {
		return nil, err
	}
	var out [][]byte
	err := c.round(call{op: "Gather", b: data, root: root, out: &out})
	return out, err
}

func (c *localComm) Barrier() error { return c.round(call{op: "Barrier"}) }

func (c *localComm) Close() error {
	g := c.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if !c.closed {
		c.closed = true
		if g.left == nil {
			g.left = fmt.Errorf("%w (rank %d closed)", ErrLeft, c.rank)
		}
		g.cond.Broadcast()
	}
	return nil
}

// round takes part in one collective: the last member to arrive combines
// every member's call, writing each member's results into its own
// buffers, and releases the others.
func (c *localComm) round(k call) error {
	g := c.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.closed {
		return fmt.Errorf("collective: rank %d: %s after Close", c.rank, k.op)
	}
	if g.left != nil {
		return g.left
	}
	g.calls[c.rank] = k
	g.arrived++
	gen := g.gen
	if g.arrived == g.size {
		g.roundErr = g.combine()
		g.arrived = 0
		clear(g.calls)
		g.gen++
		g.cond.Broadcast()
		return g.roundErr
	}
	for g.gen == gen && g.left == nil {
		g.cond.Wait()
	}
	if g.gen == gen {
		return g.left
	}
	return g.roundErr
}

// combine carries out a round whose calls have all arrived.
func (g *localGroup) combine() error {
	first := g.calls[0]
	for r, k := range g.calls {
		switch {
		case k.op != first.op:
			return fmt.Errorf("collective: rank %d called %s while rank 0 called %s", r, k.op, first.op)
		case k.root != first.root:
			return fmt.Errorf("collective: %s: rank %d's root is %d, rank 0's %d", k.op, r, k.root, first.root)
		case len(k.f32) != len(first.f32) || len(k.f64) != len(first.f64) || (k.op == "Broadcast" && len(k.b) != len(first.b)):
			return fmt.Errorf("collective: %s: rank %d's buffer has %d elements, rank 0's %d", k.op, r,
				len(k.f32)+len(k.f64)+len(k.b), len(first.f32)+len(first.f64)+len(first.b))
		}
	}
	switch first.op {
	case "AllReduceSum32":
		sum := append([]float32(nil), first.f32...)
		for _, k := range g.calls[1:] {
			for i, x := range k.f32 {
				sum[i] += x
			}
		}
		for _, k := range g.calls {
			copy(k.f32, sum)
		}
	case "AllReduceSum64":
		sum := append([]float64(nil), first.f64...)
		for _, k := range g.calls[1:] {
			for i, x := range k.f64 {
				sum[i] += x
			}
		}
		for _, k := range g.calls {
			copy(k.f64, sum)
		}
	case "Broadcast":
		src := g.calls[first.root].b
		for r, k := range g.calls {
			if r != first.root {
				copy(k.b, src)
			}
		}
	case "Gather":
		out := make([][]byte, g.size)
		for r, k := range g.calls {
			out[r] = append([]byte(nil), k.b...)
		}
		*g.calls[first.root].out = out
	}
	return nil
}
