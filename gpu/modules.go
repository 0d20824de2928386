//go:build gpu || gpuemu

package gpu

import (
	"os"

	"github.com/infoscale/gaualpha/kernels/cuda"
)

// JITEnv names the environment variable that makes Open and Preflight load
// the kernels' PTX, which the driver JIT-compiles, instead of their
// prebuilt fatbins: GAUALPHA_GPU_JIT=1. For comparing the two; the fatbin
// is the default.
const JITEnv = "GAUALPHA_GPU_JIT"

// Images Open loads (Info.Image).
const (
	ImageFatbin = "fatbin" // SASS for sm_80 and sm_90, compute_90 PTX for other devices
	ImagePTX    = "ptx"    // the PTX of Info.Arch, JIT-compiled by the driver
)

// imageKind is what the environment asks Open to load: ImagePTX when JITEnv
// is "1", else ImageFatbin.
func imageKind() string {
	if os.Getenv(JITEnv) == "1" {
		return ImagePTX
	}
	return ImageFatbin
}

// moduleImage returns the image of module name that cuModuleLoadDataEx
// loads on a device whose PTX architecture is arch ("sm80" or "sm90"; see
// archOf), after checking the parameters of the module's kernels in that
// PTX against kernelSigs. kind ImageFatbin: the module's fatbin, from which
// the driver takes the SASS of the device (sm_80 on every 8.x, sm_90 on
// 9.0) or else JIT-compiles the compute_90 PTX it holds; ImagePTX: the PTX
// text of arch, which the driver JIT-compiles. The image travels as a Go
// string (binary for a fatbin): the backend copies it into C memory with a
// NUL after it, which PTX text needs and a fatbin ignores.
func moduleImage(name, arch, kind string) (string, error) {
	ptx, err := cuda.PTX(name, arch)
	if err != nil {
		return "", err
	}
	if err := checkPTXSignatures(name, ptx); err != nil {
		return "", err
	}
	if kind == ImagePTX {
		return ptx, nil
	}
	fb, err := cuda.Fatbin(name)
	if err != nil {
		return "", err
	}
	return string(fb), nil
}
