package collective_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/collective/internal/commtest"
)

func TestSingle(t *testing.T) {
	if err := commtest.Check(collective.Single{}); err != nil {
		t.Fatal(err)
	}
	if err := (collective.Single{}).Broadcast(nil, 1); err == nil {
		t.Error("Broadcast from root 1 in a group of one: no error")
	}
}

func TestLocal(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5} {
		if err := collective.RunLocal(n, commtest.Check); err != nil {
			t.Errorf("group of %d: %v", n, err)
		}
	}
}

func TestShare(t *testing.T) {
	for _, c := range []struct{ n, size int }{{32, 1}, {32, 2}, {32, 3}, {5, 5}, {7, 3}, {2, 4}} {
		next, sizes := 0, map[int]bool{}
		for r := range c.size {
			lo, hi := collective.Share(c.n, r, c.size)
			if lo != next || hi < lo {
				t.Errorf("Share(%d, %d, %d) = [%d, %d), want it to start at %d", c.n, r, c.size, lo, hi, next)
			}
			next = hi
			sizes[hi-lo] = true
		}
		if next != c.n {
			t.Errorf("Share(%d, ·, %d) covers %d items", c.n, c.size, next)
		}
		if len(sizes) > 2 {
			t.Errorf("Share(%d, ·, %d): share sizes %v differ by more than one", c.n, c.size, sizes)
		}
	}
}

// Calls that do not match fail on every member, naming the difference.
func TestLocalMismatch(t *testing.T) {
	for _, c := range []struct {
		name string
		f    func(c collective.Comm) error
		want string
	}{
		{"kinds", func(c collective.Comm) error {
			if c.Rank() == 0 {
				return c.Barrier()
			}
			return c.AllReduceSum32(make([]float32, 3))
		}, "rank 1 called AllReduceSum32 while rank 0 called Barrier"},
		{"lengths", func(c collective.Comm) error {
			return c.AllReduceSum64(make([]float64, 3+c.Rank()))
		}, "rank 1's buffer has 4 elements, rank 0's 3"},
		{"roots", func(c collective.Comm) error {
			return c.Broadcast(make([]byte, 2), c.Rank())
		}, "rank 1's root is 1, rank 0's 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := collective.RunLocal(2, c.f)
			if err == nil || strings.Count(err.Error(), c.want) != 2 {
				t.Errorf("got %v, want %q from both ranks", err, c.want)
			}
		})
	}
}

// A member that fails releases the others waiting in a collective.
func TestLocalLeft(t *testing.T) {
	err := collective.RunLocal(3, func(c collective.Comm) error {
		if c.Rank() == 1 {
			return errors.New("disk full")
		}
		return c.Barrier()
	})
	if err == nil || !errors.Is(err, collective.ErrLeft) || !strings.Contains(err.Error(), "rank 1: disk full") {
		t.Errorf("got %v, want rank 1's error and ErrLeft from the others", err)
	}
	cs := collective.NewLocal(2)
	cs[0].Close()
	if err := cs[0].Barrier(); err == nil {
		t.Error("a collective after Close: no error")
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := cs[1].Barrier(); !errors.Is(err, collective.ErrLeft) {
			t.Errorf("Barrier with rank 0 gone: %v, want ErrLeft", err)
		}
	}()
	wg.Wait()
}
