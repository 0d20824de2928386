//go:build gpu || gpuemu

package driver

import "github.com/infoscale/gaualpha/gpu/cudalib"

// CuBLASEnv names a cuBLAS library file to try before any other.
const CuBLASEnv = "GAUALPHA_CUBLAS"

// CuBLASCandidates lists the cuBLAS libraries the -tags gpu build tries, in
// order, for a driver of CUDA major version driverMajor (0: unknown):
// GAUALPHA_CUBLAS, then package cudalib's search (the python3 on PATH's
// environment, VIRTUAL_ENV, CONDA_PREFIX, /opt/*/.venv, ldconfig's cache,
// /usr/local/cuda*; libcublas.so.13 before .12 before .11; each with its
// libcublasLt to open first).
func CuBLASCandidates(driverMajor int) []cudalib.Candidate {
	return cudalib.System(CuBLASEnv).Candidates(cudalib.CuBLAS, driverMajor)
}

// NCCLEnv names an NCCL library file to try before any other.
const NCCLEnv = "GAUALPHA_NCCL"

// NCCLCandidates lists the NCCL libraries the -tags gpu build tries, in
// order: GAUALPHA_NCCL, then package cudalib's search (libnccl.so.2 in the
// Python environments' nvidia wheels, conda, ldconfig's cache, the CUDA
// toolkits, the loader's own search).
func NCCLCandidates() []cudalib.Candidate {
	return cudalib.System(NCCLEnv).Candidates(cudalib.NCCL, 0)
}

// CudaMajor is the major version of a CUDA driver version as
// cuDriverGetVersion reports it (12040: 12); 0 for 0.
func CudaMajor(driverVersion int) int { return driverVersion / 1000 }
