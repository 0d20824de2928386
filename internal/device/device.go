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
