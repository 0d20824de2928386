//go:build !gpu

package device

const gpuBuilt = false
