//go:build !gpu && !gpuemu

package device

const gpuBuilt = false

// executorBuilt reports whether the device executor is linked in.
const executorBuilt = false
