//go:build gpu || gpuemu

package analysis

import (
	"io"
	"math"
	"testing"

	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/gpu"
)

// The analyses on the device executor give the CPU's numbers: the forward
// pass runs on the device and the statistics on the CPU from the layers'
// inputs copied back. The inputs differ by float32 rounding in other
// orders (the device sums in other orders, with FMAs and CUDA's expf; about
// 1e-6 relative in the tiny model, eval's device test measures it), so the
// entropies and masses agree to 1e-4; a NaN weight is refused on the
// device as on the CPU.
func TestDeviceAnalysesMatchCPU(t *testing.T) {
	if err := gpu.Available(); err != nil {
		t.Skipf("no GPU to test on: %v", err)
	}
	dev, err := backend.Open("cuda", "f32")
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	m := tinyModel(t, 8, 5, nil)
	docs := [][]int{randomDoc(40, 1), randomDoc(25, 2)}
	want, wantDocs, err := Entropy(backend.Default(), m, docs, []string{"softmax", "infoscale"}, []int{16, 48}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got, gotDocs, err := Entropy(dev, m, docs, []string{"softmax", "infoscale"}, []int{16, 48}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(gotDocs) != len(wantDocs) {
		t.Fatalf("%d rows on the device, %d on the CPU", len(got), len(want))
	}
	for i := range want {
		if got[i].Rows != want[i].Rows || math.Abs(got[i].Mean-want[i].Mean) > 1e-4*want[i].Mean {
			t.Errorf("%+v on the device, %+v on the CPU", got[i], want[i])
		}
	}
	pol, _ := m.Config.Policy("")
	bw, err := Band(backend.Default(), m, pol, docs, 48, []int{0, 4})
	if err != nil {
		t.Fatal(err)
	}
	bg, err := Band(dev, m, pol, docs, 48, []int{0, 4})
	if err != nil {
		t.Fatal(err)
	}
	for i := range bw {
		if math.Abs(bg[i].Mass-bw[i].Mass) > 1e-4 {
			t.Errorf("band %+v on the device, %+v on the CPU", bg[i], bw[i])
		}
	}
	nan := tinyModel(t, 0, 5, func(p *gau.Params) { p.Layers[0].ODense.Data().([]float32)[3] = float32(math.NaN()) })
	if _, _, err := Entropy(dev, nan, docs, []string{"softmax"}, []int{16}, io.Discard); err == nil {
		t.Error("a NaN weight analysed on the device")
	}
}
