package gpu

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// The cuBLAS libraries the -tags gpu build tries, in order. The same order,
// written in shell, is scripts/gpu-check.sh's find_cublas; keep the two
// alike.

// CuBLASEnv names a cuBLAS library file to try before any other.
const CuBLASEnv = "GAUALPHA_CUBLAS"

// cublasMajors are the cuBLAS major versions loaded, newest first: a CUDA 13
// machine has only libcublas.so.13, and a driver runs any cuBLAS of its
// major version or older.
var cublasMajors = []int{13, 12, 11}

// cublasDirPatterns are the folders, relative to the file-system root,
// where cuBLAS is installed outside the dynamic loader's search path: the
// CUDA toolkits, the Python wheels (nvidia-cublas-cu12 keeps libcublas.so.12
// in nvidia/cublas/lib, the CUDA 13 wheels in nvidia/cu13/lib) and conda.
// Within one pattern, the matches are tried in reverse lexical order, so
// /usr/local/cuda-12.8 before /usr/local/cuda-12.4.
var cublasDirPatterns = []string{
	"usr/local/cuda/lib64",
	"usr/local/cuda-*/lib64",
	"usr/local/cuda/targets/*/lib",
	"usr/local/cuda-*/targets/*/lib",
	"usr/local/lib/python3*/dist-packages/nvidia/*/lib",
	"usr/local/lib/python3*/site-packages/nvidia/*/lib",
	"usr/lib/python3/dist-packages/nvidia/*/lib",
	"usr/lib/python3*/site-packages/nvidia/*/lib",
	"opt/conda/lib/python3*/site-packages/nvidia/*/lib",
	"opt/conda/lib",
	"root/.local/lib/python3*/site-packages/nvidia/*/lib",
}

// cublasEnvDirPatterns are the same folders under the environments named by
// VIRTUAL_ENV and CONDA_PREFIX (absolute, so not under the root).
var cublasEnvDirPatterns = map[string][]string{
	"VIRTUAL_ENV":  {"lib/python3*/site-packages/nvidia/*/lib"},
	"CONDA_PREFIX": {"lib/python3*/site-packages/nvidia/*/lib", "lib"},
}

// cublasCandidates lists the cuBLAS libraries to try, in order: the file
// named by GAUALPHA_CUBLAS (getenv's answer), then for each major version
// from cublasMajors, newest first, that a driver of major version
// driverMajor runs (0: unknown, every one), the bare soname (the dynamic
// loader's search: LD_LIBRARY_PATH, the ldconfig cache, the system
// folders), then the files that exist in the folders of cublasDirPatterns
// under root and of cublasEnvDirPatterns. Each path appears once.
func cublasCandidates(root string, driverMajor int, getenv func(string) string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	add(getenv(CuBLASEnv))
	var dirs []string
	glob := func(pattern string) {
		m, _ := filepath.Glob(pattern) // the patterns are constant and valid
		slices.Sort(m)
		slices.Reverse(m)
		dirs = append(dirs, m...)
	}
	for _, p := range cublasDirPatterns {
		glob(filepath.Join(root, p))
	}
	for _, env := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if base := getenv(env); base != "" {
			for _, p := range cublasEnvDirPatterns[env] {
				glob(filepath.Join(base, p))
			}
		}
	}
	for _, v := range cublasMajors {
		if driverMajor > 0 && v > driverMajor {
			continue
		}
		name := "libcublas.so." + strconv.Itoa(v)
		add(name)
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				add(p)
			}
		}
	}
	return out
}

// cudaMajor is the major version of a CUDA driver version as
// cuDriverGetVersion reports it (12040: 12); 0 for 0.
func cudaMajor(driverVersion int) int { return driverVersion / 1000 }
