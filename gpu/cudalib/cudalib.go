// Package cudalib finds NVIDIA's shared libraries (cuBLAS, NCCL) where they
// are installed, which on today's machines is rarely the dynamic loader's
// search path: PyTorch and NVIDIA's wheels put them in a Python
// environment's site-packages/nvidia/<name>/lib, conda in its prefix, the
// CUDA toolkit in /usr/local/cuda-X.Y/lib64.
//
// Search lists, for one library, the files to try in order (Candidates);
// package gpu opens the first that loads. The order, for each major version
// from the newest (libcublas.so.13 before .12 before .11) that the driver
// runs:
//
//  1. the Python environment of the python3 on PATH: its prefix (the
//     folder above the bin/ that holds python3, links not followed, so a
//     virtual environment's own) and that prefix's site-packages or
//     dist-packages/nvidia/*/lib (and local/lib/... for a system Python,
//     where pip installs, first);
//  2. the environments named by VIRTUAL_ENV and CONDA_PREFIX (conda also
//     in its lib/);
//  3. every virtual environment /opt/*/.venv;
//  4. the dynamic loader's cache (`ldconfig -p`);
//  5. the CUDA toolkits, /usr/local/cuda/lib64 and then
//     /usr/local/cuda-*/lib64, newest first;
//  6. after the files of every version, the bare sonames, for the loader's
//     own search (LD_LIBRARY_PATH, the system folders).
//
// An explicit file (Search.Explicit, from an environment variable such as
// GAUALPHA_CUBLAS) comes before all of them. The package only reads the file
// system and runs `ldconfig -p`; it loads nothing, and needs no build tag.
package cudalib

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Lib describes a library to look for.
type Lib struct {
	// Name is the file name before ".so" (libcublas).
	Name string
	// Majors are the major versions of its soname, newest first
	// (libcublas.so.13, .12, .11).
	Majors []int
	// Preload are the libraries, by name before ".so", of the same major
	// version that the library needs and that live beside it (cuBLAS
	// needs cuBLASLt): a loader opens each from the same folder first, so
	// a library found outside the loader's path finds them.
	Preload []string
	// NoDriverLimit: the library's major version is its own, not the CUDA
	// release it needs (NCCL's .so.2), so the driver does not bound it.
	NoDriverLimit bool
}

// CuBLAS is cuBLAS: libcublas.so.13, .12 and .11, each with its
// libcublasLt of the same major version.
var CuBLAS = Lib{Name: "libcublas", Majors: []int{13, 12, 11}, Preload: []string{"libcublasLt"}}

// NCCL is NVIDIA's collective communications library, libnccl.so.2.
var NCCL = Lib{Name: "libnccl", Majors: []int{2}, NoDriverLimit: true}

// Candidate is one file to try.
type Candidate struct {
	// Path is the file, or for Where == WhereLoader the bare soname.
	Path string
	// Where says how it was found (one of the Where* constants).
	Where string
	// Preload are the files to open before it (Lib.Preload found beside
	// it), in order.
	Preload []string
}

// The places a candidate comes from, in the order they are searched.
const (
	WhereExplicit   = "explicit"
	WherePython     = "python3 on PATH"
	WhereVirtualEnv = "VIRTUAL_ENV"
	WhereConda      = "CONDA_PREFIX"
	WhereOptVenv    = "/opt/*/.venv"
	WhereLdconfig   = "ldconfig -p"
	WhereToolkit    = "/usr/local/cuda*"
	WhereLoader     = "the loader's search path"
)

// Search is where to look.
type Search struct {
	// Root is the file system's root: "/" (or "" for it), a folder in
	// tests. Absolute paths from the environment (PATH, VIRTUAL_ENV,
	// CONDA_PREFIX) are taken under it.
	Root string
	// Getenv reads the environment (os.Getenv).
	Getenv func(string) string
	// Ldconfig returns the output of `ldconfig -p` (LdconfigP); nil skips
	// the loader's cache.
	Ldconfig func() ([]byte, error)
	// Explicit names a file to try before any other ("" for none).
	Explicit string
}

// System is the search of this machine: the real root and environment,
// `ldconfig -p`, and the file named by the environment variable explicit
// ("" for none).
func System(explicit string) Search {
	s := Search{Root: "/", Getenv: os.Getenv, Ldconfig: LdconfigP}
	if explicit != "" {
		s.Explicit = os.Getenv(explicit)
	}
	return s
}

// LdconfigP runs `ldconfig -p` (from PATH, /sbin or /usr/sbin) for at most
// five seconds and returns its output.
func LdconfigP() ([]byte, error) {
	bin, err := exec.LookPath("ldconfig")
	if err != nil {
		for _, p := range []string{"/sbin/ldconfig", "/usr/sbin/ldconfig"} {
			if st, e := os.Stat(p); e == nil && !st.IsDir() {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, bin, "-p").Output()
}

// under returns the absolute path p under the search's root.
func (s Search) under(p string) string {
	if s.Root == "" || s.Root == "/" {
		return p
	}
	return filepath.Join(s.Root, p)
}

func (s Search) getenv(k string) string {
	if s.Getenv == nil {
		return ""
	}
	return s.Getenv(k)
}

// place is one folder to look in and how it was found.
type place struct{ dir, where string }

// wheelDirs are the folders of NVIDIA's Python wheels in an environment,
// relative to its prefix.
var wheelDirs = []string{
	"local/lib/python3*/dist-packages/nvidia/*/lib", // pip beside a system Python (Debian, Ubuntu)
	"local/lib/python3*/site-packages/nvidia/*/lib",
	"lib/python3*/site-packages/nvidia/*/lib",
	"lib/python3*/dist-packages/nvidia/*/lib",
	"lib64/python3*/site-packages/nvidia/*/lib",
}

// glob returns the matches of pattern, newest-looking first (reverse
// lexical order: python3.12 before python3.11, cuda-12.8 before cuda-12.4).
func glob(pattern string) []string {
	m, _ := filepath.Glob(pattern) // the patterns are well formed
	slices.Sort(m)
	slices.Reverse(m)
	return m
}

// PythonPrefix returns the prefix of the first python3 on the search's
// PATH (the folder above its bin/, links not followed), or "".
func (s Search) PythonPrefix() string {
	for _, d := range filepath.SplitList(s.getenv("PATH")) {
		if d == "" || !filepath.IsAbs(d) {
			continue
		}
		p := filepath.Join(d, "python3")
		if st, err := os.Stat(s.under(p)); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return filepath.Dir(filepath.Clean(d))
		}
	}
	return ""
}

// places lists the folders of steps 1-3 and 5 (ldconfig's files and the
// loader come per version), each once, in search order.
func (s Search) places() (env, toolkit []place) {
	seen := map[string]bool{}
	add := func(list *[]place, dir, where string) {
		if !seen[dir] {
			seen[dir] = true
			*list = append(*list, place{dir, where})
		}
	}
	prefix := func(p, where string, extra ...string) {
		if p == "" || !filepath.IsAbs(p) {
			return
		}
		for _, w := range append(slices.Clone(wheelDirs), extra...) {
			for _, d := range glob(filepath.Join(s.under(p), w)) {
				add(&env, d, where)
			}
		}
	}
	prefix(s.PythonPrefix(), WherePython)
	prefix(s.getenv("VIRTUAL_ENV"), WhereVirtualEnv)
	prefix(s.getenv("CONDA_PREFIX"), WhereConda, "lib")
	for _, v := range glob(s.under("/opt/*/.venv")) {
		for _, w := range wheelDirs {
			for _, d := range glob(filepath.Join(v, w)) {
				add(&env, d, WhereOptVenv)
			}
		}
	}
	add(&toolkit, s.under("/usr/local/cuda/lib64"), WhereToolkit)
	for _, d := range glob(s.under("/usr/local/cuda-*/lib64")) {
		add(&toolkit, d, WhereToolkit)
	}
	return env, toolkit
}

// ldconfigFiles parses `ldconfig -p` output: soname -> files, in order.
func ldconfigFiles(out []byte) map[string][]string {
	m := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		_, file, ok := strings.Cut(rest, "=> ")
		if !ok {
			continue
		}
		m[name] = append(m[name], strings.TrimSpace(file))
	}
	return m
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Candidates lists the files to try for lib, in the package's order, for
// a driver of CUDA major version driverMajor (0: unknown, every version;
// a CUDA 12 driver runs cuBLAS 12 and 11, not 13). Only files that exist
// are listed, each once, then the bare sonames for the loader.
func (s Search) Candidates(lib Lib, driverMajor int) []Candidate {
	var out []Candidate
	seen := map[string]bool{}
	add := func(c Candidate) {
		if !seen[c.Path] {
			seen[c.Path] = true
			out = append(out, c)
		}
	}
	if s.Explicit != "" {
		add(Candidate{Path: s.Explicit, Where: WhereExplicit, Preload: s.preload(lib, s.Explicit)})
	}
	env, toolkit := s.places()
	var ld map[string][]string
	if s.Ldconfig != nil {
		if b, err := s.Ldconfig(); err == nil {
			ld = ldconfigFiles(b)
		}
	}
	var loader []Candidate
	for _, v := range lib.Majors {
		if driverMajor > 0 && v > driverMajor && !lib.NoDriverLimit {
			continue
		}
		so := lib.Name + ".so." + strconv.Itoa(v)
		file := func(p place) {
			if f := filepath.Join(p.dir, so); isFile(f) {
				add(Candidate{Path: f, Where: p.where, Preload: s.preload(lib, f)})
			}
		}
		for _, p := range env {
			file(p)
		}
		for _, f := range ld[so] {
			if isFile(s.under(f)) {
				add(Candidate{Path: s.under(f), Where: WhereLdconfig, Preload: s.preload(lib, s.under(f))})
			}
		}
		for _, p := range toolkit {
			file(p)
		}
		loader = append(loader, Candidate{Path: so, Where: WhereLoader})
	}
	for _, c := range loader {
		add(c)
	}
	return out
}

// preload returns lib's Preload libraries found beside file, of file's
// major version.
func (s Search) preload(lib Lib, file string) []string {
	_, ver, ok := strings.Cut(filepath.Base(file), ".so.")
	if !ok {
		return nil
	}
	var out []string
	for _, p := range lib.Preload {
		f := filepath.Join(filepath.Dir(file), p+".so."+ver)
		if isFile(f) {
			out = append(out, f)
		}
	}
	return out
}
