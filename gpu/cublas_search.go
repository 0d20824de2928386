//go:build gpu || gpuemu

package gpu

import "github.com/infoscale/gaualpha/gpu/cudalib"

// CuBLASEnv names a cuBLAS library file to try before any other.
const CuBLASEnv = "GAUALPHA_CUBLAS"

// cublasCandidates lists the cuBLAS libraries the -tags gpu build tries, in
// order, for a driver of CUDA major version driverMajor (0: unknown):
// GAUALPHA_CUBLAS, then package cudalib's search (the python3 on PATH's
// environment, VIRTUAL_ENV, CONDA_PREFIX, /opt/*/.venv, ldconfig's cache,
// /usr/local/cuda*; libcublas.so.13 before .12 before .11; each with its
// libcublasLt to open first).
func cublasCandidates(driverMajor int) []cudalib.Candidate {
	return cudalib.System(CuBLASEnv).Candidates(cudalib.CuBLAS, driverMajor)
}

// ncclCandidates lists the NCCL libraries found (nothing loads them yet:
// the preflight reports them for multi-GPU work to come).
func ncclCandidates() []cudalib.Candidate {
	return cudalib.System("").Candidates(cudalib.NCCL, 0)
}

// cudaMajor is the major version of a CUDA driver version as
// cuDriverGetVersion reports it (12040: 12); 0 for 0.
func cudaMajor(driverVersion int) int { return driverVersion / 1000 }
