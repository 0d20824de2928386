// Package device resolves the -device flag of the commands.
package device

import "fmt"

// Kind is where the model runs.
type Kind string

// The devices.
const (
	CPU  Kind = "cpu"
	CUDA Kind = "cuda"
)

// Parse checks a -device value against what this binary was built with.
func Parse(s string) (Kind, error) {
	switch Kind(s) {
	case CPU, "":
		return CPU, nil
	case CUDA, "gpu":
		if !gpuBuilt {
			return "", fmt.Errorf("-device cuda: this binary was built without GPU support; build it with `go build -tags gpu` (needs the CUDA 11.8 headers, see docs/gpu.md)")
		}
		if !executorBuilt {
			return "", fmt.Errorf("-device cuda: this build has the CUDA kernels (package gpu) but not yet the device executor for training and evaluation; see docs/gpu.md")
		}
		return CUDA, nil
	}
	return "", fmt.Errorf("unknown device %q (want cpu or cuda)", s)
}

// Precision checks a -precision value for a device: "f32" (or empty) runs
// everywhere, "bf16" (bfloat16 inputs to the matrix products, float32
// accumulation) on CUDA only. It returns whether bf16 was asked for.
func Precision(kind Kind, s string) (bf16 bool, err error) {
	switch s {
	case "", "f32":
		return false, nil
	case "bf16":
		if kind != CUDA {
			return false, fmt.Errorf("-precision bf16 needs -device cuda (the CPU runs in float32)")
		}
		return true, nil
	}
	return false, fmt.Errorf("-precision: unknown precision %q (f32 or bf16)", s)
}
