//go:build !gpu || gpuemu

package backend

// defaultDevice: the CPU, in the default build and in the emulator's
// (whose GPU is the CPU emulator of the tests).
const defaultDevice = string(CPU)
