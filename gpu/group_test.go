//go:build gpu || gpuemu

package gpu

import (
	"fmt"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/collective"
)

// groupValue is element i of member r's buffer b: small integers, so that
// the sums scaled by powers of two are exact in float32.
func groupValue(r, b, i int) float32 { return float32((r+1)*(i%5+1) - b*(i%3)) }

// checkGroup runs, on member c with device d, an all-reduce of three
// buffers (one empty) scaled by 2^-rank and compares every element with
// the sum computed on the host.
func checkGroup(c collective.Comm, d *Device) error {
	g, err := d.JoinGroup(c)
	if err != nil {
		return err
	}
	defer g.Close()
	r, n := c.Rank(), c.Size()
	counts := []int{1000, 0, 70_001}
	ptrs := make([]DevicePtr, len(counts))
	for b, cnt := range counts {
		x := make([]float32, max(cnt, 1))
		for i := range x {
			x[i] = groupValue(r, b, i)
		}
		if ptrs[b], err = AllocCopy(d, x); err != nil {
			return err
		}
		defer d.Free(ptrs[b])
	}
	scale := func(r int) float32 { return 1 / float32(int(1)<<r) }
	if err := g.AllReduceScaled(ptrs, counts, scale(r)); err != nil {
		return err
	}
	for b, cnt := range counts {
		got := make([]float32, cnt)
		if err := Download(d, got, ptrs[b]); err != nil {
			return err
		}
		for i, v := range got {
			var want float32
			for q := range n {
				want += scale(q) * groupValue(q, b, i)
			}
			if v != want {
				return fmt.Errorf("rank %d: buffer %d element %d: %v, want %v", r, b, i, v, want)
			}
		}
	}
	return nil
}

// One member on the device (NCCL with one rank on a GPU): the sum is the
// member's own values, scaled.
func TestGroupOneRank(t *testing.T) {
	d := testDevice(t)
	if err := checkGroup(collective.Single{}, d); err != nil {
		t.Fatal(err)
	}
}

// Three emulated devices in one process, one per goroutine rank: the
// fake of NCCL sums their buffers.
func TestGroupEmulated(t *testing.T) {
	if !emulated() {
		t.Skip("several devices in one process exist on the emulator only")
	}
	const n = 3
	devs := make([]*Device, n)
	for i := range devs {
		d, err := Open(0)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		devs[i] = d
	}
	if err := collective.RunLocal(n, func(c collective.Comm) error { return checkGroup(c, devs[c.Rank()]) }); err != nil {
		t.Fatal(err)
	}
	// Counts that differ between members fail on all of them.
	err := collective.RunLocal(2, func(c collective.Comm) error {
		g, err := devs[c.Rank()].JoinGroup(c)
		if err != nil {
			return err
		}
		defer g.Close()
		p, err := devs[c.Rank()].Alloc(64)
		if err != nil {
			return err
		}
		defer devs[c.Rank()].Free(p)
		return g.AllReduceScaled([]DevicePtr{p}, []int{4 + 4*c.Rank()}, 1)
	})
	if err == nil || strings.Count(err.Error(), "rank 1's buffer 0 has 8 elements, rank 0's 4") != 2 {
		t.Errorf("mismatched counts: %v", err)
	}
}
