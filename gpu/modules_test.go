//go:build gpu || gpuemu

package gpu

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/kernels/cuda"
)

// TestModuleImage checks, without a device, what Open hands the driver for
// every module: the fatbin by default, the PTX text of the architecture
// with JITEnv=1, and an error for a module that does not exist.
func TestModuleImage(t *testing.T) {
	isFatbin := func(s string) bool {
		return len(s) >= 16 && binary.LittleEndian.Uint32([]byte(s[:4])) == 0xBA55ED50
	}
	isPTX := func(arch string) func(string) bool {
		target := ".target sm_" + strings.TrimPrefix(arch, "sm")
		return func(s string) bool { return strings.Contains(s, target) && strings.Contains(s, ".entry") }
	}
	cases := []struct {
		env, arch, kind string
		ok              func(string) bool
	}{
		{"", "sm80", ImageFatbin, isFatbin},
		{"0", "sm90", ImageFatbin, isFatbin},
		{"1", "sm80", ImagePTX, isPTX("sm80")},
		{"1", "sm90", ImagePTX, isPTX("sm90")},
	}
	for _, c := range cases {
		t.Setenv(JITEnv, c.env)
		if got := imageKind(); got != c.kind {
			t.Errorf("%s=%q: image %q, want %q", JITEnv, c.env, got, c.kind)
			continue
		}
		for _, m := range cuda.Modules {
			img, err := moduleImage(m, c.arch, imageKind())
			if err != nil {
				t.Errorf("%s %s %s: %v", m, c.arch, c.kind, err)
			} else if !c.ok(img) {
				t.Errorf("%s %s %s: not the expected image (%d bytes, starts %q)", m, c.arch, c.kind, len(img), img[:min(len(img), 16)])
			}
		}
	}
	if _, err := moduleImage("nosuch", "sm90", ImageFatbin); err == nil {
		t.Error("a module without PTX was accepted")
	}
}

// TestOpenImage checks that Open reports the image it loaded.
func TestOpenImage(t *testing.T) {
	d := testDevice(t)
	if got, want := d.Info().Image, imageKind(); got != want {
		t.Errorf("Info().Image = %q, want %q", got, want)
	}
}
