//go:build gpuemu

package driver

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/infoscale/gaualpha/internal/bf16"
)

// TestEmuLdmatrix checks the emulated ldmatrix against the PTX ISA's
// description of it, written out per matrix rather than per lane: the row
// r of matrix m comes from the address lane 8m+r gives, and its 32-bit word
// w (elements 2w, 2w+1) goes to register m of lane 4r+w; with .trans, lane
// 4r+w receives word w of row r of the transposed matrix, i.e. elements r
// of rows 2w and 2w+1. The row addresses are a random permutation of the
// rows and random columns, so a mix-up of lanes, rows or halves shows. It
// also multiplies two matrices through ldmatrix (A), ldmatrix .trans (B)
// and the emulated mma, with the attention kernel's addressing, and checks
// the product against float64.
func TestEmuLdmatrix(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	var in [32 * 24]uint16
	for i := range in {
		// Small bfloat16 values (exact products and sums in float32), all
		// bit patterns distinct enough to tell positions apart.
		in[i] = bf16.Bits(float32(rng.IntN(255)-127) / 16)
	}
	// Distinct elements for the layout checks: the position itself as the bits.
	var pos [32 * 24]uint16
	for i := range pos {
		pos[i] = uint16(i + 1)
	}
	var rows, cols [32]int64
	for l, r := range rng.Perm(32) {
		rows[l] = int64(r)
		cols[l] = int64(8 * rng.IntN(3))
	}
	out, _, err := EmuProbeLdmatrix(&pos, &rows, &cols)
	if err != nil {
		t.Fatal(err)
	}
	elem := func(m, r, c int) uint16 { // element c of row r of matrix m
		l := 8*m + r
		return pos[int(rows[l])*24+int(cols[l])+c]
	}
	for v := range 6 {
		num, trans := 1<<(v%3), v >= 3
		var want [32][4]uint32
		for m := range num {
			for r := range 8 {
				for w := range 4 {
					var lo, hi uint16
					if trans {
						lo, hi = elem(m, 2*w, r), elem(m, 2*w+1, r)
					} else {
						lo, hi = elem(m, r, 2*w), elem(m, r, 2*w+1)
					}
					want[4*r+w][m] = uint32(lo) | uint32(hi)<<16
				}
			}
		}
		for lane := range 32 {
			if out[v][lane] != want[lane] {
				t.Errorf("x%d trans=%v lane %d: %#x, want %#x", num, trans, lane, out[v][lane], want[lane])
			}
		}
	}

	_, dout, err := EmuProbeLdmatrix(&in, &rows, &cols)
	if err != nil {
		t.Fatal(err)
	}
	f := make([]float32, len(in))
	for i, v := range in {
		f[i] = bf16.Float(v)
	}
	for i := range 16 {
		for j := range 16 {
			var s float64
			for k := range 16 {
				s += float64(f[i*24+k]) * float64(f[(16+k)*24+j])
			}
			if got := float64(dout[i*16+j]); math.Abs(got-s) > 1e-6*(1+math.Abs(s)) {
				t.Errorf("(A·B)[%d][%d] = %v, want %v", i, j, got, s)
			}
		}
	}
}
