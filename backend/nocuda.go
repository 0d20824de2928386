//go:build !(gpu || gpuemu)

package backend

import "errors"

// cudaBuilt reports whether this binary has the GPU executor.
const cudaBuilt = false

func openCUDA(Precision, Options) (Backend, error) {
	return nil, errors.New("this binary was built without GPU support")
}
