package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/infoscale/gaualpha/"

// levels places every package of the module (paths relative to the module,
// "cmd/" standing for every command). A package may import only packages
// of a strictly lower level, so two packages of one level never import
// each other (train and eval, for example).
var levels = map[string]int{
	// Leaves: definitions, data, formats, the math of the methods.
	"attn": 0, "pipeline": 0, "stats": 0, "tokenizer": 0, "corpus": 0,
	"internal/bf16": 0, "internal/atomicfile": 0, "internal/numcheck": 0, "internal/cli": 1, "internal/runlock": 0, "internal/host": 0,
	"kernels/simd": 0, "kernels/cuda": 0, "kernels/parallel": 0, "internal/archtest": 0, "gpu/cudalib": 0, "internal/rendezvous": 0,
	// Formats and kernels built on the leaves.
	"collective": 1, "metrics": 1, "passkey": 1, "safetensors": 1, "testset": 1, "kernels/gemm": 1, "gpu/driver": 1, "optim": 1,
	"collective/mpi": 2, "collective/internal/commtest": 2,
	"kernels/cpu": 2, "gpu": 2,
	// Graphs: the ops and the CPU executor, then the model and the device
	// executor (which knows graphs, not models).
	"graph":         3,
	"gau":           4,
	"gpu/graphexec": 4,
	// Where graphs run, checkpoints, the methods' flags.
	"backend": 5, "checkpoint": 5, "internal/methodflags": 5,
	// Training and evaluation.
	"train": 6, "eval": 6,
	// The study's artifacts, the verdicts and analyses over them, the
	// report and the figures; the CPU benchmark.
	"study": 7, "benchmark": 7, "internal/testfiles": 7,
	"verdict": 8, "analysis": 8, "baseline": 8,
	"report": 9, "figures": 9, "runner": 9,
	// Commands and scripts.
	"cmd/": 10, "scripts/": 10,
}

func level(pkg string) (int, bool) {
	if l, ok := levels[pkg]; ok {
		return l, true
	}
	for _, prefix := range []string{"cmd/", "scripts/"} {
		if strings.HasPrefix(pkg, prefix) {
			return levels[prefix], true
		}
	}
	return 0, false
}

// imports lists, for one set of build tags, each package of the module
// and the module's packages it imports (not its tests').
func imports(t *testing.T, tags string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-tags", tags, "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", module+"...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -tags %q: %v\n%s", tags, err, stderr.String())
	}
	g := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		pkg := strings.TrimPrefix(f[0], module)
		g[pkg] = nil
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, module) {
				g[pkg] = append(g[pkg], strings.TrimPrefix(imp, module))
			}
		}
	}
	return g
}

// TestImportsPointDown reads the import graph with `go list`, in the plain
// build and in the GPU build, and fails on an import that does not go to a
// lower level, or on a package with no level (a new package must be placed
// here and in docs/design.md). The GPU build is read with MPI (-tags gpu
// mpi), so that the files of both tags are in one graph.
func TestImportsPointDown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	for _, tags := range []string{"", "gpu,mpi"} {
		g := imports(t, tags)
		if len(g) < 20 {
			t.Fatalf("go list -tags %q found only %d packages", tags, len(g))
		}
		for pkg, deps := range g {
			lp, ok := level(pkg)
			if !ok {
				t.Errorf("package %s has no level: place it in levels and in docs/design.md", pkg)
				continue
			}
			for _, d := range deps {
				ld, ok := level(d)
				if ok && ld >= lp {
					t.Errorf("tags %q: %s (level %d) imports %s (level %d): imports must point to lower levels", tags, pkg, lp, d, ld)
				}
			}
		}
	}
}

// The rule catches the imports it exists to forbid.
func TestLevelsForbid(t *testing.T) {
	for _, c := range [][2]string{
		{"kernels/cpu", "graph"}, {"gau", "train"}, {"graph", "gpu/graphexec"},
		{"train", "eval"}, {"eval", "train"}, {"gpu/graphexec", "gau"}, {"checkpoint", "train"},
		{"study", "verdict"}, {"benchmark", "study"}, {"train", "benchmark"}, {"verdict", "report"}, {"eval", "study"}, {"study", "analysis"}, {"analysis", "figures"},
	} {
		lp, _ := level(c[0])
		ld, _ := level(c[1])
		if ld < lp {
			t.Errorf("%s may import %s", c[0], c[1])
		}
	}
}
