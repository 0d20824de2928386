package gpu

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestCublasCandidates checks the order in which cuBLAS is looked for, in a
// fake file-system tree: GAUALPHA_CUBLAS first, then per major version,
// newest first and only those the driver runs, the bare soname and the
// files present in the toolkit, wheel and conda folders.
func TestCublasCandidates(t *testing.T) {
	root := t.TempDir()
	files := []string{
		"usr/local/cuda/lib64/libcublas.so.12",
		"usr/local/cuda-12.4/lib64/libcublas.so.12",
		"usr/local/cuda-12.8/lib64/libcublas.so.12",
		"usr/local/cuda-13.0/lib64/libcublas.so.13",
		"usr/local/cuda-13.0/lib64/libcublasLt.so.13",
		"usr/local/lib/python3.12/dist-packages/nvidia/cu13/lib/libcublas.so.13",
		"usr/local/lib/python3.11/site-packages/nvidia/cublas/lib/libcublas.so.12",
		"opt/conda/lib/libcublas.so.11",
		"venv/lib/python3.10/site-packages/nvidia/cublas/lib/libcublas.so.12",
	}
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A folder named like the library is not a candidate.
	if err := os.MkdirAll(filepath.Join(root, "usr/local/cuda-11.8/lib64/libcublas.so.11"), 0o755); err != nil {
		t.Fatal(err)
	}
	at := func(f string) string { return filepath.Join(root, f) }
	venv := at("venv")
	all13 := []string{
		"libcublas.so.13",
		at("usr/local/cuda-13.0/lib64/libcublas.so.13"),
		at("usr/local/lib/python3.12/dist-packages/nvidia/cu13/lib/libcublas.so.13"),
	}
	all12 := []string{
		"libcublas.so.12",
		at("usr/local/cuda/lib64/libcublas.so.12"),
		at("usr/local/cuda-12.8/lib64/libcublas.so.12"),
		at("usr/local/cuda-12.4/lib64/libcublas.so.12"),
		at("usr/local/lib/python3.11/site-packages/nvidia/cublas/lib/libcublas.so.12"),
		at("venv/lib/python3.10/site-packages/nvidia/cublas/lib/libcublas.so.12"),
	}
	all11 := []string{"libcublas.so.11", at("opt/conda/lib/libcublas.so.11")}
	cat := func(parts ...[]string) []string { return slices.Concat(parts...) }
	for _, c := range []struct {
		name   string
		driver int
		env    map[string]string
		want   []string
	}{
		{"driver unknown: 13, 12, 11", 0, map[string]string{"VIRTUAL_ENV": venv}, cat(all13, all12, all11)},
		{"CUDA 13 driver", 13, map[string]string{"VIRTUAL_ENV": venv}, cat(all13, all12, all11)},
		{"CUDA 12 driver: no cuBLAS 13", 12, map[string]string{"VIRTUAL_ENV": venv}, cat(all12, all11)},
		{"GAUALPHA_CUBLAS first", 12, map[string]string{CuBLASEnv: "/x/libcublas.so.12", "VIRTUAL_ENV": venv},
			cat([]string{"/x/libcublas.so.12"}, all12, all11)},
		{"no VIRTUAL_ENV", 12, nil, cat(all12[:5], all11)},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := cublasCandidates(root, c.driver, func(k string) string { return c.env[k] })
			if !slices.Equal(got, c.want) {
				t.Errorf("candidates:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestCudaMajor(t *testing.T) {
	for v, want := range map[int]int{0: 0, 11080: 11, 12040: 12, 13000: 13} {
		if got := cudaMajor(v); got != want {
			t.Errorf("cudaMajor(%d) = %d, want %d", v, got, want)
		}
	}
}
