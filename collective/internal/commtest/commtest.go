// Package commtest checks an implementation of collective.Comm: every
// member of a group runs Check, which exercises each collective with values
// that depend on the rank and the group's size and compares the results
// with the sums, copies and gathers computed independently.
package commtest

import (
	"bytes"
	"fmt"
	"math"

	"github.com/infoscale/gaualpha/collective"
)

// value is the i-th element member r contributes to a sum: small
// integers, so every order of addition gives the same float32.
func value(r, i int) float64 { return float64((r+1)*(i%7+1)) - float64(i%3) }

// Check runs every collective on c (every member of the group calls it)
// and returns the first wrong result.
func Check(c collective.Comm) error {
	r, n := c.Rank(), c.Size()
	if r < 0 || r >= n {
		return fmt.Errorf("rank %d outside a group of %d", r, n)
	}
	if lr := c.LocalRank(); lr < 0 || lr > r {
		return fmt.Errorf("rank %d: local rank %d", r, lr)
	}
	for _, size := range []int{0, 1, 1000, 300_001} {
		f32 := make([]float32, size)
		f64 := make([]float64, size)
		for i := range f32 {
			f32[i] = float32(value(r, i))
			f64[i] = value(r, i) + 1e-12*float64(r)
		}
		if err := c.AllReduceSum32(f32); err != nil {
			return fmt.Errorf("AllReduceSum32 of %d: %w", size, err)
		}
		if err := c.AllReduceSum64(f64); err != nil {
			return fmt.Errorf("AllReduceSum64 of %d: %w", size, err)
		}
		for i := range f32 {
			var want, want64 float64
			for q := range n {
				want += value(q, i)
				want64 += value(q, i) + 1e-12*float64(q)
			}
			if float64(f32[i]) != want {
				return fmt.Errorf("rank %d: AllReduceSum32 of %d: element %d is %v, want %v", r, size, i, f32[i], want)
			}
			if math.Abs(f64[i]-want64) > 1e-9 {
				return fmt.Errorf("rank %d: AllReduceSum64 of %d: element %d is %v, want %v", r, size, i, f64[i], want64)
			}
		}
	}
	for root := range n {
		buf := make([]byte, 4099)
		for i := range buf {
			buf[i] = byte(r*31 + i)
		}
		if err := c.Broadcast(buf, root); err != nil {
			return fmt.Errorf("Broadcast from %d: %w", root, err)
		}
		for i, b := range buf {
			if b != byte(root*31+i) {
				return fmt.Errorf("rank %d: Broadcast from %d: byte %d is %d, want %d", r, root, i, b, byte(root*31+i))
			}
		}
		mine := bytes.Repeat([]byte{byte(r)}, r*1000+3) // lengths differ by rank
		all, err := c.Gather(mine, root)
		if err != nil {
			return fmt.Errorf("Gather to %d: %w", root, err)
		}
		if r != root {
			if all != nil {
				return fmt.Errorf("rank %d: Gather to %d returned %d parts off the root", r, root, len(all))
			}
			continue
		}
		if len(all) != n {
			return fmt.Errorf("rank %d: Gather returned %d parts for %d members", r, len(all), n)
		}
		for q, p := range all {
			if !bytes.Equal(p, bytes.Repeat([]byte{byte(q)}, q*1000+3)) {
				return fmt.Errorf("rank %d: Gather: rank %d's part is wrong (%d bytes)", r, q, len(p))
			}
		}
	}
	if err := c.Barrier(); err != nil {
		return fmt.Errorf("Barrier: %w", err)
	}
	got, err := collective.BroadcastBytes(c, []byte(fmt.Sprintf("from rank %d", r)), n-1)
	if err != nil {
		return err
	}
	if want := fmt.Sprintf("from rank %d", n-1); string(got) != want {
		return fmt.Errorf("rank %d: BroadcastBytes gave %q, want %q", r, got, want)
	}
	type pair struct{ Rank, Square int }
	ps, err := collective.GatherJSON(c, pair{r, r * r}, 0)
	if err != nil {
		return err
	}
	if r == 0 {
		for q, p := range ps {
			if p != (pair{q, q * q}) {
				return fmt.Errorf("GatherJSON: part %d is %+v", q, p)
			}
		}
	}
	if err := collective.Agree(c, "greeting", "hello"); err != nil {
		return err
	}
	if n > 1 {
		err := collective.Agree(c, "rank", fmt.Sprint(r))
		if err == nil {
			return fmt.Errorf("rank %d: Agree on differing values returned no error", r)
		}
	}
	return nil
}
