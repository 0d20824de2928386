//go:build gpuemu

package gpu

import "errors"

// The emulator's answers to the preflight's questions: it compiles no
// kernel for a device, so it has no registers, local memory or occupancy to
// report, and it runs the GEMMs on the CPU, without cuBLAS.

var (
	errEmuAttrs = errors.New("not available in the emulator (no device compilation)")
	errEmuBlas  = errors.New("the emulator runs the GEMMs on the CPU, without cuBLAS")
)

func (b *backend) funcAttrs(f function, name string) (FuncAttrs, error) {
	return FuncAttrs{}, errEmuAttrs
}

func (b *backend) occupancy(f function, name string, block, smem int) (int, error) {
	return 0, errEmuAttrs
}

// maxThreadsPerSM is an sm_90 multiprocessor's, as info reports an sm_90
// device.
func (b *backend) maxThreadsPerSM() (int, error) { return 2048, nil }

// loadBlas lists the cuBLAS files the gpu build would try, and loads none.
func loadBlas(driverVersion int) (path, version string, tried []string, err error) {
	for _, c := range cublasCandidates(cudaMajor(driverVersion)) {
		tried = append(tried, c.Where+": "+c.Path+": not loaded (emulator)")
	}
	return "", "", tried, errEmuBlas
}
