//go:build gpu

package device

const gpuBuilt = true

// executorBuilt reports whether the device executor is linked in.
const executorBuilt = false
