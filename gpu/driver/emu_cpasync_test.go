//go:build gpuemu

package driver

import (
	"strings"
	"testing"
)

// TestEmuCpAsync checks the emulator's cp.async against the PTX ISA's
// rules: a copy has landed once a wait_group has completed its group (a
// barrier after the wait makes it visible to the other threads); landing
// late, before the wait another thread still sees the old contents;
// wait_group n leaves the n newest groups pending; copies not yet committed
// are not waited for; landing early, a read before the wait already sees
// the new contents; a source size below 16 fills the rest with zeros; a
// thread that exits with copies pending and a misaligned destination are
// reported.
func TestEmuCpAsync(t *testing.T) {
	var in [128]uint64
	for i := range in {
		in[i] = 0x0101010101010101 * uint64(i+1)
	}
	stale := [2]uint64{^uint64(0), ^uint64(0)} // shared memory starts as 0xff bytes
	a := func(lane int) [2]uint64 { n := (lane + 1) % 32; return [2]uint64{in[2*n], in[2*n+1]} }
	b := func(lane int) [2]uint64 { n := (lane + 1) % 32; return [2]uint64{in[64+2*n], in[64+2*n+1]} }
	half := func(lane int) [2]uint64 { return [2]uint64{a(lane)[0], 0} }
	zero := func(int) [2]uint64 { return [2]uint64{} }
	old := func(int) [2]uint64 { return stale }
	for _, c := range []struct {
		name  string
		mode  int
		late  bool
		slots []func(int) [2]uint64 // what each slot must hold
	}{
		{"wait then barrier: the copy is seen (late)", 0, true, []func(int) [2]uint64{a}},
		{"wait then barrier: the copy is seen (early)", 0, false, []func(int) [2]uint64{a}},
		{"read before the wait, late: the old contents", 1, true, []func(int) [2]uint64{old}},
		{"read before the wait, early: the new contents", 1, false, []func(int) [2]uint64{a}},
		{"wait_group 1 completes the older group only", 2, true, []func(int) [2]uint64{a, old, b}},
		{"an uncommitted copy is not waited for", 3, true, []func(int) [2]uint64{old, a}},
		{"source size 8 and 0: zero fill", 4, true, []func(int) [2]uint64{half, zero}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := EmuProbeCpAsync(&in, c.mode, c.late)
			if err != nil {
				t.Fatal(err)
			}
			for s, want := range c.slots {
				for lane := range 32 {
					if got := out[s][lane]; got != want(lane) {
						t.Fatalf("slot %d lane %d: %#x, want %#x", s, lane, got, want(lane))
					}
				}
			}
		})
	}
	for mode, want := range map[int]string{5: "pending at the thread's exit", 6: "not aligned"} {
		if _, err := EmuProbeCpAsync(&in, mode, true); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("mode %d: error %v, want one about %q", mode, err, want)
		}
	}
}
