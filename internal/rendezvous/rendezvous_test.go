package rendezvous

import (
	"errors"
	"sync"
	"testing"
)

// run plays n members, each calling f with its rank, and returns their
// errors by rank.
func run(n int, f func(rank int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[r] = f(r)
		}()
	}
	wg.Wait()
	return errs
}

func TestRounds(t *testing.T) {
	for _, n := range []int{1, 2, 3, 8} {
		g := New[int](n)
		sums := make([][]int, n)
		errs := run(n, func(rank int) error {
			if err := g.Join(rank); err != nil {
				return err
			}
			for round := range 50 {
				var sum int
				err := g.Round(rank, rank*100+round, func(parts []int) error {
					if len(parts) != n {
						t.Errorf("round of %d parts, want %d", len(parts), n)
					}
					for _, p := range parts {
						sum += p
					}
					return nil
				})
				if err != nil {
					return err
				}
				sums[rank] = append(sums[rank], sum)
			}
			return nil
		})
		for r, err := range errs {
			if err != nil {
				t.Fatalf("n=%d rank %d: %v", n, r, err)
			}
		}
		// One member (the last to arrive) computes each round's sum; the
		// sum of every round is 100·n(n-1)/2 + n·round.
		for round := range 50 {
			want := 100*n*(n-1)/2 + n*round
			got := 0
			for r := range n {
				got += sums[r][round]
			}
			if got != want {
				t.Errorf("n=%d round %d: sum %d, want %d", n, round, got, want)
			}
		}
	}
}

func TestRoundError(t *testing.T) {
	g := New[int](3)
	bad := errors.New("parts differ")
	errs := run(3, func(rank int) error {
		return g.Round(rank, rank, func([]int) error { return bad })
	})
	for r, err := range errs {
		if !errors.Is(err, bad) {
			t.Errorf("rank %d: %v, want the round's error", r, err)
		}
	}
}

func TestLeaveReleases(t *testing.T) {
	left := errors.New("rank 2 left")
	for _, c := range []struct {
		name string
		wait func(g *Group[int], rank int) error
	}{
		{"join", func(g *Group[int], rank int) error { return g.Join(rank) }},
		{"round", func(g *Group[int], rank int) error {
			return g.Round(rank, 1, func([]int) error { t.Error("a round without rank 2 completed"); return nil })
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := New[int](3)
			errs := run(3, func(rank int) error {
				if rank == 2 {
					g.Leave(2, left)
					g.Leave(2, errors.New("second leave")) // ignored
					return nil
				}
				return c.wait(g, rank)
			})
			for r := range 2 {
				if !errors.Is(errs[r], left) {
					t.Errorf("rank %d: %v, want the leaver's error", r, errs[r])
				}
			}
			if err := g.Round(2, 0, nil); !errors.Is(err, ErrClosed) {
				t.Errorf("a round after leaving: %v, want ErrClosed", err)
			}
			if err := g.Join(2); !errors.Is(err, ErrClosed) {
				t.Errorf("joining after leaving: %v, want ErrClosed", err)
			}
			if err := g.Round(0, 0, nil); !errors.Is(err, left) {
				t.Errorf("a later round: %v, want the leaver's error", err)
			}
		})
	}
}
