package benchmark

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{fmtSeconds(0.00123), "1.23 ms"},
		{fmtSeconds(0.5), "500.0 ms"},
		{fmtSeconds(1.5), "1.50 s"},
		{fmtSeconds(250), "250 s"},
		{fmtBytes(512), "512 B"},
		{fmtBytes(1536), "1.5 KiB"},
		{fmtBytes(600 << 20), "600 MiB"},
		{fmtBytes(3 << 30), "3.00 GiB"},
		{fmtCount(2), "2"},
		{fmtCount(0.6), "0.6"},
		{fmtCount(123.4), "123"},
		{fmtRatio(0.9, 1.2), "0.75"},
		{fmtRatio(1, 0), "—"},
		{fmtRatio(1, -1), "—"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// The ratio columns: Go over PyTorch for time and peak RSS, none for the
// idle row (each runtime's own footprint) or a side that did not run.
func TestRenderRatios(t *testing.T) {
	idle, _ := Find("idle")
	lf, _ := Find("layer_fwd")
	rows := []Row{
		{Case: idle, Go: &Result{Seconds: 1, Runs: 1, PeakRSS: 10 << 20}, Torch: &Result{Seconds: 2, Runs: 1, PeakRSS: 200 << 20}},
		{Case: lf, Go: &Result{Seconds: 3, Warmup: 1, Runs: 5, PeakRSS: 100 << 20}, Torch: &Result{Seconds: 2, Warmup: 1, Runs: 5, PeakRSS: 400 << 20}},
		{Case: lf, GoErr: "boom"},
	}
	rep := Render(Environment{CPU: "c", Cores: 2, Threads: 2, Torch: "2.0"}, rows)
	for _, want := range []string{
		"| `idle` | " + idle.Desc + " | — | — | — | — | 10 MiB | 200 MiB | — |",
		"| `layer_fwd` | " + lf.Desc + " | 1+5 | 3.00 s | 2.00 s | 1.50 | 100 MiB | 400 MiB | 0.25 |",
		"| `layer_fwd` | " + lf.Desc + " | 1+5 | failed | — | — | — | — | — |",
		"- `layer_fwd`, Go: boom",
	} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
}

func TestProgress(t *testing.T) {
	lf, _ := Find("layer_fwd")
	r := Row{Case: lf, Go: &Result{Seconds: 0.25, PeakRSS: 2 << 20, LiveHeap: 1 << 20, Wall: 3 * time.Second, OtherCores: 0.5}, TorchErr: "exit status 1: RuntimeError"}
	want := "layer_fwd: Go 250.0 ms (peak RSS 2 MiB, live heap after the runs 1 MiB; process 3s; other processes busy on 0.50 cores) | PyTorch failed: exit status 1: RuntimeError"
	if got := r.Progress(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := (Row{Case: lf}).Progress(); got != "layer_fwd: Go not run | PyTorch not run" {
		t.Errorf("nothing run: %q", got)
	}
}

func TestParseCPU(t *testing.T) {
	// user nice system idle iowait irq softirq steal, in USER_HZ.
	s := parseCPU("cpu  100 20 30 400 50 6 7 8 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	if !s.ok || !near(s.busy, 1.71) || !near(s.total, 6.21) {
		t.Errorf("got %+v", s)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8", "cpu 1 2 3", "cpu 1 2 x 4 5 6 7 8"} {
		if parseCPU(bad).ok {
			t.Errorf("%q read as a sample", bad)
		}
	}
}

// The other processes' load: the machine's busy time less the child's own,
// over the wall time; -1 when a sample or the child's usage is missing.
func TestOtherLoad(t *testing.T) {
	before := cpuSample{busy: 10, total: 100, ok: true}
	after := cpuSample{busy: 13, total: 104, ok: true}
	child := &syscall.Rusage{Utime: syscall.Timeval{Sec: 1}, Stime: syscall.Timeval{Usec: 500000}}
	if got := otherLoad(before, after, child, 2*time.Second); got != 0.75 {
		t.Errorf("got %v, want (3 - 1.5) / 2 = 0.75", got)
	}
	if got := otherLoad(before, cpuSample{busy: 11, ok: true}, child, time.Second); got != 0 {
		t.Errorf("child busier than the machine: %v, want 0", got)
	}
	for _, got := range []float64{otherLoad(cpuSample{}, after, child, time.Second), otherLoad(before, after, nil, time.Second), otherLoad(before, after, child, 0)} {
		if got != -1 {
			t.Errorf("unknown load: %v, want -1", got)
		}
	}
}

func TestVmHWM(t *testing.T) {
	if got := vmHWM("Name:\tx\nVmPeak:\t  9999 kB\nVmHWM:\t    2048 kB\n"); got != 2048*1024 {
		t.Errorf("got %d", got)
	}
	if got := vmHWM("Name:\tx\n"); got != 0 {
		t.Errorf("without VmHWM: %d", got)
	}
}

func TestCheckOut(t *testing.T) {
	dir := t.TempDir()
	marked := filepath.Join(dir, "marked.md")
	if err := WriteOut(marked, "x\n"); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain.md")
	if err := os.WriteFile(plain, []byte("text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{filepath.Join(dir, "new.md"), ""},
		{marked, ""},
		{dir, "-o " + dir + " is a directory, not a file"},
		{plain, "-o " + plain + " exists and has no bench markers"},
		{filepath.Join(dir, "no", "b.md"), "-o " + filepath.Join(dir, "no", "b.md") + ": no folder " + filepath.Join(dir, "no")},
	} {
		err := CheckOut("-o", c.path)
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.path, err, c.want)
		}
	}
}
