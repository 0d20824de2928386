//go:build gpu || gpuemu

package gpu

// Hooks for the external tests (package gpu_test), which may import
// packages that import gpu (train): the shared test device and the
// package's comparison helpers.
var (
	TestingDevice = testDevice
	Check         = check
	ZeroBuf       = zeroBuf
	UploadF32     = upload[float32]
	DownloadF32   = download[float32]
	DownloadF64   = download[float64]
	RandF32       = randF32
	Must          = must
)
