package cudalib

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tree builds a fake file system under a temporary root: each path is a
// file (executable when it ends in /python3).
func tree(t *testing.T, files ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(f, "/python3") {
			mode = 0o755
		}
		if err := os.WriteFile(p, nil, mode); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// found is a candidate as the tests write it: "where: path (preload,...)"
// with the root removed.
func found(root string, cs []Candidate) []string {
	var out []string
	for _, c := range cs {
		s := c.Where + ": " + strings.TrimPrefix(c.Path, root)
		if len(c.Preload) > 0 {
			var p []string
			for _, f := range c.Preload {
				p = append(p, filepath.Base(f))
			}
			s += " (" + strings.Join(p, ",") + ")"
		}
		out = append(out, s)
	}
	return out
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

const (
	torchVenv = "/opt/torch/.venv"
	wheel13   = torchVenv + "/lib/python3.12/site-packages/nvidia/cublas/lib/libcublas.so.13"
	wheelLt13 = torchVenv + "/lib/python3.12/site-packages/nvidia/cublas/lib/libcublasLt.so.13"
	nccl2     = torchVenv + "/lib/python3.12/site-packages/nvidia/nccl/lib/libnccl.so.2"
)

// TestCandidates builds a fake tree per layout the package knows and
// checks what is found, in which order.
func TestCandidates(t *testing.T) {
	for _, c := range []struct {
		name     string
		files    []string
		env      map[string]string
		ldconfig string // `ldconfig -p` output ("" : none)
		explicit string
		lib      Lib
		driver   int
		want     []string
	}{{
		// The GPU machine: python3 is the venv's, VIRTUAL_ENV unset,
		// only cuBLAS 13 (with its Lt beside it).
		name:   "venv python3 on PATH",
		files:  []string{torchVenv + "/bin/python3", wheel13, wheelLt13, "/usr/bin/python3"},
		env:    map[string]string{"PATH": torchVenv + "/bin:/usr/bin"},
		lib:    CuBLAS,
		driver: 13,
		want: []string{
			"python3 on PATH: " + wheel13 + " (libcublasLt.so.13)",
			"the loader's search path: libcublas.so.13",
			"the loader's search path: libcublas.so.12",
			"the loader's search path: libcublas.so.11",
		},
	}, {
		name:  "venv not on PATH: /opt/*/.venv",
		files: []string{torchVenv + "/bin/python3", wheel13, "/usr/bin/python3"},
		env:   map[string]string{"PATH": "/usr/bin"},
		lib:   CuBLAS,
		want: []string{
			"/opt/*/.venv: " + wheel13,
			"the loader's search path: libcublas.so.13",
			"the loader's search path: libcublas.so.12",
			"the loader's search path: libcublas.so.11",
		},
	}, {
		name: "system python3: pip's dist-packages under /usr/local",
		files: []string{"/usr/bin/python3",
			"/usr/local/lib/python3.11/dist-packages/nvidia/cublas/lib/libcublas.so.12",
			"/usr/lib/python3/dist-packages/nvidia/cublas/lib/libcublas.so.12"},
		env: map[string]string{"PATH": "/usr/local/bin:/usr/bin"},
		lib: CuBLAS, driver: 12,
		want: []string{
			"python3 on PATH: /usr/local/lib/python3.11/dist-packages/nvidia/cublas/lib/libcublas.so.12",
			"python3 on PATH: /usr/lib/python3/dist-packages/nvidia/cublas/lib/libcublas.so.12",
			"the loader's search path: libcublas.so.12",
			"the loader's search path: libcublas.so.11",
		},
	}, {
		name: "VIRTUAL_ENV, then CONDA_PREFIX (its lib too), newest major first, the loader last",
		files: []string{
			"/home/u/venv/lib/python3.10/site-packages/nvidia/cublas/lib/libcublas.so.12",
			"/home/u/conda/lib/libcublas.so.11",
			"/home/u/conda/lib/python3.9/site-packages/nvidia/cublas/lib/libcublas.so.12"},
		env: map[string]string{"VIRTUAL_ENV": "/home/u/venv", "CONDA_PREFIX": "/home/u/conda"},
		lib: CuBLAS,
		want: []string{
			"VIRTUAL_ENV: /home/u/venv/lib/python3.10/site-packages/nvidia/cublas/lib/libcublas.so.12",
			"CONDA_PREFIX: /home/u/conda/lib/python3.9/site-packages/nvidia/cublas/lib/libcublas.so.12",
			"CONDA_PREFIX: /home/u/conda/lib/libcublas.so.11",
			"the loader's search path: libcublas.so.13",
			"the loader's search path: libcublas.so.12",
			"the loader's search path: libcublas.so.11",
		},
	}, {
		name: "ldconfig's cache, then the toolkits newest first; the driver bounds the major",
		files: []string{
			"/usr/lib/x86_64-linux-gnu/libcublas.so.12", "/usr/lib/x86_64-linux-gnu/libcublasLt.so.12",
			"/usr/local/cuda/lib64/libcublas.so.12",
			"/usr/local/cuda-12.4/lib64/libcublas.so.12",
			"/usr/local/cuda-12.8/lib64/libcublas.so.12",
			"/usr/local/cuda-13.0/lib64/libcublas.so.13",
			"/usr/local/cuda-11.8/lib64/libcublas.so.11"},
		ldconfig: "3 libs found in cache `/etc/ld.so.cache'\n" +
			"\tlibcublasLt.so.12 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcublasLt.so.12\n" +
			"\tlibcublas.so.12 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcublas.so.12\n" +
			"\tlibcublas.so.11 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcublas.so.11\n", // stale: no file
		lib: CuBLAS, driver: 12,
		want: []string{
			"ldconfig -p: /usr/lib/x86_64-linux-gnu/libcublas.so.12 (libcublasLt.so.12)",
			"/usr/local/cuda*: /usr/local/cuda/lib64/libcublas.so.12",
			"/usr/local/cuda*: /usr/local/cuda-12.8/lib64/libcublas.so.12",
			"/usr/local/cuda*: /usr/local/cuda-12.4/lib64/libcublas.so.12",
			"/usr/local/cuda*: /usr/local/cuda-11.8/lib64/libcublas.so.11",
			"the loader's search path: libcublas.so.12",
			"the loader's search path: libcublas.so.11",
		},
	}, {
		name:     "explicit file first",
		files:    []string{torchVenv + "/bin/python3", wheel13, "/x/libcublas.so.12", "/x/libcublasLt.so.12"},
		env:      map[string]string{"PATH": torchVenv + "/bin"},
		explicit: "/x/libcublas.so.12",
		lib:      CuBLAS, driver: 13,
		want: []string{
			"explicit: /x/libcublas.so.12 (libcublasLt.so.12)",
			"python3 on PATH: " + wheel13,
			"the loader's search path: libcublas.so.13",
			"the loader's search path: libcublas.so.12",
			"the loader's search path: libcublas.so.11",
		},
	}, {
		name:   "NCCL from the same wheels; the driver does not bound its .so.2",
		files:  []string{torchVenv + "/bin/python3", wheel13, nccl2},
		env:    map[string]string{"PATH": torchVenv + "/bin"},
		lib:    NCCL,
		driver: 12,
		want: []string{
			"python3 on PATH: " + nccl2,
			"the loader's search path: libnccl.so.2",
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			root := tree(t, c.files...)
			explicit := ""
			if c.explicit != "" {
				explicit = filepath.Join(root, c.explicit)
			}
			s := Search{Root: root, Getenv: env(c.env), Explicit: explicit}
			if c.ldconfig != "" {
				s.Ldconfig = func() ([]byte, error) { return []byte(c.ldconfig), nil }
			}
			got := found(root, s.Candidates(c.lib, c.driver))
			if !slices.Equal(got, c.want) {
				t.Errorf("candidates:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(c.want, "\n     "))
			}
		})
	}
}

// TestPythonPrefix: the prefix of the first python3 on PATH, links not
// followed (a venv's python3 is a link to the system's).
func TestPythonPrefix(t *testing.T) {
	root := tree(t, "/usr/bin/python3", "/opt/torch/.venv/lib/python3.12/site-packages/x")
	if err := os.MkdirAll(filepath.Join(root, "/opt/torch/.venv/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "/usr/bin/python3"), filepath.Join(root, "/opt/torch/.venv/bin/python3")); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/opt/torch/.venv/bin:/usr/bin": "/opt/torch/.venv",
		"/usr/local/bin:/usr/bin":       "/usr",
		"relative/bin:/nowhere":         "",
		"":                              "",
	} {
		s := Search{Root: root, Getenv: env(map[string]string{"PATH": path})}
		if got := s.PythonPrefix(); got != want {
			t.Errorf("PATH=%q: prefix %q, want %q", path, got, want)
		}
	}
}

func TestLdconfigFiles(t *testing.T) {
	out := "2 libs found in cache `/etc/ld.so.cache'\n" +
		"\tlibnccl.so.2 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnccl.so.2\n" +
		"\tlibnccl.so.2 (libc6) => /usr/lib32/libnccl.so.2\n" +
		"Cache generated by: ldconfig (GNU libc) stable release version 2.36\n"
	got := fmt.Sprint(ldconfigFiles([]byte(out)))
	want := "map[libnccl.so.2:[/usr/lib/x86_64-linux-gnu/libnccl.so.2 /usr/lib32/libnccl.so.2]]"
	if got != want {
		t.Errorf("ldconfigFiles = %s, want %s", got, want)
	}
}
