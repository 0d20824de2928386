//go:build gpuemu

package gpu

import (
	"reflect"
	"testing"

	"github.com/infoscale/gaualpha/gpu/driver"
)

// TestArgsLayout compares every kernel's Go parameter struct (args.go) with
// the C struct of kernels/cuda, as the emulator compiles it from the same
// sources as the PTX: the same fields in the same order (the Go tag `c`
// names the C field), at the same offsets, of the same size and kind
// (DevicePtr a pointer, int64 signed, uint64 unsigned, float64 floating
// point), and the same total size.
func TestArgsLayout(t *testing.T) {
	kinds := map[reflect.Type]byte{
		reflect.TypeFor[DevicePtr](): 'p',
		reflect.TypeFor[int64]():     'i',
		reflect.TypeFor[uint64]():    'u',
		reflect.TypeFor[float64]():   'f',
	}
	for name, sig := range kernelSigs {
		size, fields, ok := driver.CLayout(name)
		if !ok {
			t.Errorf("%s: the emulator has no parameter struct for it", name)
			continue
		}
		g := sig.args
		if int(g.Size()) != size || g.NumField() != len(fields) {
			t.Errorf("%s: Go %s has %d fields in %d bytes, C %d in %d", name, g.Name(), g.NumField(), g.Size(), len(fields), size)
			continue
		}
		for i, c := range fields {
			f := g.Field(i)
			want := driver.CField{Name: f.Tag.Get("c"), Offset: int(f.Offset), Size: int(f.Type.Size()), Kind: kinds[f.Type]}
			if want != c {
				t.Errorf("%s: field %d: Go %s %v (%+v), C %+v", name, i, f.Name, f.Type, want, c)
			}
		}
	}
	// The check itself: a C field of another name, offset or kind fails.
	_, fields, _ := driver.CLayout("gau_clip_f32")
	if len(fields) != 4 || fields[2] != (driver.CField{Name: "sqnorm", Offset: 16, Size: 8, Kind: 'p'}) || fields[3] != (driver.CField{Name: "max_norm", Offset: 24, Size: 8, Kind: 'f'}) {
		t.Errorf("gau_clip_f32's C layout %+v, want x, n, sqnorm (pointer at 16), max_norm (double at 24)", fields)
	}
}
