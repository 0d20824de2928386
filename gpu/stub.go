//go:build !gpu && !gpuemu

package gpu

import "errors"

// Built reports whether GPU support is compiled in: false here, in a build
// without the gpu tag.
const Built = false

// ErrNotBuilt is what Available returns in a build without the gpu tag.
var ErrNotBuilt = errors.New("gpu: GPU support is not built in (build with -tags gpu; see docs/gpu.md)")

// Available reports whether a GPU can be used: never, in this build.
func Available() error { return ErrNotBuilt }
