//go:build gpu || gpuemu

package device

const gpuBuilt = true

// executorBuilt reports whether the device executor is linked in: package
// gpu/graphexec, which train and eval use for -device cuda. (With the tag
// gpuemu instead of gpu, "cuda" runs on package gpu's CPU emulator of the
// kernels: for tests only, very slow.)
const executorBuilt = true
