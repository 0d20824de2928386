package figures

import (
	"image/color"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/train"
)

// Entry (i, j) of a matrix is the pixel in row i from the top, column j
// from the left, and block averages keep the layout.
func TestHeatmapLayout(t *testing.T) {
	const L = 5
	m := make([]float64, L*L)
	for i := 0; i < L; i++ {
		for j := 0; j < L; j++ {
			m[i*L+j] = float64(i+10*j) / 88
		}
	}
	lut := make([]color.RGBA, 256)
	for i := range lut {
		lut[i] = color.RGBA{uint8(i), 0, 0, 255}
	}
	img := matrixImage(m, L, lut)
	for i := 0; i < L; i++ {
		for j := 0; j < L; j++ {
			want := uint8(math.Round(float64(i+10*j) / 88 * 255))
			if got := img.RGBAAt(j, i).R; got != want {
				t.Errorf("pixel x=%d y=%d: %d, want %d (entry row %d column %d)", j, i, got, want, i, j)
			}
		}
	}
	// Block averages keep the layout.
	big := make([]float64, 16)
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			big[i*4+j] = float64(10*i + j)
		}
	}
	if got, want := downsample(big, 4, 2), []float64{5.5, 7.5, 25.5, 27.5}; !slices.Equal(got, want) {
		t.Errorf("downsample = %v, want %v", got, want)
	}
}

func TestLog2Ticks(t *testing.T) {
	cases := []struct {
		lo, hi float64
		want   []float64
	}{
		{64, 4096, []float64{64, 128, 256, 512, 1024, 2048, 4096}},
		{5, 300, []float64{8, 16, 32, 64, 128, 256}},
		{0.5, 1, []float64{0.5, 1}},
	}
	for _, c := range cases {
		var got []float64
		for _, tk := range log2Ticks(c.lo, c.hi) {
			got = append(got, tk.Value)
			if tk.Label == "" {
				t.Errorf("[%v, %v]: unlabelled tick %v", c.lo, c.hi, tk.Value)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("log2Ticks(%v, %v) = %v, want %v", c.lo, c.hi, got, c.want)
		}
	}
	// Many octaves: every third tick labelled (at most 8 steps).
	ts := log2Ticks(1, 1<<20)
	if len(ts) != 21 || ts[1].Label != "" || ts[3].Label != "8" {
		t.Errorf("wide range ticks %v", ts)
	}
}

func TestMovingAverage(t *testing.T) {
	ps := []train.StepMetrics{{Loss: 4}, {Loss: 2}, {Loss: 6}, {Loss: 0}}
	got := movingAverage(ps, 2)
	for i, want := range []float64{4, 3, 4, 3} {
		if got[i].Loss != want {
			t.Fatalf("moving average %v, want 4 3 4 3", got)
		}
	}
}

// A malformed -runs entry, a label twice in a panel and an empty list are
// refused before any metrics log is read.
func TestReadLossRunsRefuses(t *testing.T) {
	for _, c := range []struct{ list, want string }{
		{"", "no run given"},
		{" , ", "no run given"},
		{"base", `"base" is not [PANEL:]LABEL=DIR`},
		{"=dir", `"=dir" is not`},
		{"p:=dir", "empty LABEL"},
		{"a=" + t.TempDir() + "/missing", "metrics"},
	} {
		if _, _, err := ReadLossRuns(c.list); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ReadLossRuns(%q): %v, want an error with %q", c.list, err, c.want)
		}
	}
}
