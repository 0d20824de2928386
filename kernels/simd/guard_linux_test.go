package simd

import (
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"unsafe"
)

// guardedSlice returns a slice of n float32 (4n <= page size) in a private
// mapping whose neighbouring pages are inaccessible: the slice ends at the
// end of its page when atEnd, else starts at its start. Any access outside
// the slice, read or write, faults.
func guardedSlice(t *testing.T, n int, atEnd bool) []float32 {
	t.Helper()
	page := os.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 3*page, syscall.PROT_NONE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[page:2*page], syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
		t.Fatal(err)
	}
	off := page
	if atEnd {
		off = 2*page - 4*n
	}
	if n == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&mem[off])), 0)
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&mem[off])), n)
}

// TestNoOutOfBoundsAccess runs every kernel on slices bordered by
// inaccessible pages, so that reading or writing even one element past
// either end crashes the test.
func TestNoOutOfBoundsAccess(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	forImpls(t, func(t *testing.T, im *impl) {
		for _, kc := range kernelCases {
			for n := 0; n <= 80; n++ {
				for _, atEnd := range []bool{false, true} {
					dst := guardedSlice(t, n, atEnd)
					x := guardedSlice(t, n, atEnd)
					y := guardedSlice(t, n, atEnd)
					copy(x, randSlice(rng, n, kc.lo, kc.hi))
					copy(y, randSlice(rng, n, -3, 3))
					ret := kc.run(im, dst, x, y)
					if msg := kc.check(dst, x, y, ret); msg != "" {
						t.Fatalf("%s, n=%d: %s", kc.name, n, msg)
					}
					kc.run(im, x, x, y) // in place
				}
			}
		}
	})
}

// TestAdamWNoOutOfBoundsAccess runs AdamW on four slices bordered by
// inaccessible pages.
func TestAdamWNoOutOfBoundsAccess(t *testing.T) {
	st := adamWTestStep()
	rng := rand.New(rand.NewPCG(15, 16))
	forImpls(t, func(t *testing.T, im *impl) {
		for n := 0; n <= 40; n++ {
			for _, atEnd := range []bool{false, true} {
				var s [4][]float32
				in := newAdamWState(rng, n)
				for k, src := range [][]float32{in.p, in.g, in.m, in.v} {
					s[k] = guardedSlice(t, n, atEnd)
					copy(s[k], src)
				}
				im.adamW(s[0], s[1], s[2], s[3], st)
				if msg := checkAdamW(st, in, adamWState{s[0], s[1], s[2], s[3]}); msg != "" {
					t.Fatalf("n=%d: %s", n, msg)
				}
			}
		}
	})
}
