package collective

import (
	"errors"
	"fmt"
	"sync"

	"github.com/infoscale/gaualpha/internal/rendezvous"
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
	g := rendezvous.New[call](n)
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

// call is one member's part in a round.
type call struct {
	op   string
	f32  []float32
	f64  []float64
	b    []byte
	root int
	out  *[][]byte
}

// localComm is one member of a Local group: its rounds meet the other
// members' in g, one collective at a time, completed by the last member
// to arrive.
type localComm struct {
	g    *rendezvous.Group[call]
	rank int
}

func (c *localComm) Rank() int      { return c.rank }
func (c *localComm) Size() int      { return c.g.Size() }
func (c *localComm) LocalRank() int { return c.rank }

func (c *localComm) AllReduceSum32(buf []float32) error {
	return c.round(call{op: "AllReduceSum32", f32: buf})
}

func (c *localComm) AllReduceSum64(buf []float64) error {
	return c.round(call{op: "AllReduceSum64", f64: buf})
}

func (c *localComm) Broadcast(buf []byte, root int) error {
	if err := checkRoot(root, c.g.Size()); err != nil {
		return err
	}
	return c.round(call{op: "Broadcast", b: buf, root: root})
}

func (c *localComm) Gather(data []byte, root int) ([][]byte, error) {
	if err := checkRoot(root, c.g.Size()); err != nil {
		return nil, err
	}
	var out [][]byte
	err := c.round(call{op: "Gather", b: data, root: root, out: &out})
	return out, err
}

func (c *localComm) Barrier() error { return c.round(call{op: "Barrier"}) }

func (c *localComm) Close() error {
	c.g.Leave(c.rank, fmt.Errorf("%w (rank %d closed)", ErrLeft, c.rank))
	return nil
}

// round takes part in one collective: the last member to arrive combines
// every member's call, writing each member's results into its own
// buffers, and releases the others.
func (c *localComm) round(k call) error {
	err := c.g.Round(c.rank, k, combine)
	if errors.Is(err, rendezvous.ErrClosed) {
		return fmt.Errorf("collective: rank %d: %s after Close", c.rank, k.op)
	}
	return err
}

// combine carries out a round whose calls have all arrived.
func combine(calls []call) error {
	first := calls[0]
	for r, k := range calls {
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
		for _, k := range calls[1:] {
			for i, x := range k.f32 {
				sum[i] += x
			}
		}
		for _, k := range calls {
			copy(k.f32, sum)
		}
	case "AllReduceSum64":
		sum := append([]float64(nil), first.f64...)
		for _, k := range calls[1:] {
			for i, x := range k.f64 {
				sum[i] += x
			}
		}
		for _, k := range calls {
			copy(k.f64, sum)
		}
	case "Broadcast":
		src := calls[first.root].b
		for r, k := range calls {
			if r != first.root {
				copy(k.b, src)
			}
		}
	case "Gather":
		out := make([][]byte, len(calls))
		for r, k := range calls {
			out[r] = append([]byte(nil), k.b...)
		}
		*calls[first.root].out = out
	}
	return nil
}
