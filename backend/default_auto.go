//go:build gpu && !gpuemu

package backend

// defaultDevice: a binary built for the GPU uses it where it can.
const defaultDevice = Auto
