package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/benchmark"
)

// -case runs one Go case in this process and prints its JSON result as
// the last line, as the parent reads it.
func TestChildPrintsResult(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-case", "idle", "-runs", "2", "-warmup", "0"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var res benchmark.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %q", err, out.String())
	}
	if res.Case != "idle" || res.Runs != 2 || len(res.Times) != 2 || res.Threads < 1 {
		t.Errorf("result %+v", res)
	}
}

func TestFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-list"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "layer_fwdbwd") {
		t.Fatalf("-list: %d %q %q", code, out.String(), errb.String())
	}
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.md")
	if err := os.WriteFile(plain, []byte("no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Each is refused with exit status 2 and one line on stderr naming the
	// flag and the value, before any case or the peak measurement runs.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-threads", "0"}, "-threads 0 outside 1.."},
		{[]string{"-threads", "100000"}, "-threads 100000 outside 1.."},
		{[]string{"-cases", "nope"}, `unknown case "nope"`},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-runs", "-5"}, "-runs -5 outside 0..10000"},
		{[]string{"-runs", "100000000", "-case", "idle"}, "-runs 100000000 outside"},
		{[]string{"-warmup", "-2"}, "-warmup -2 outside -1..10000"},
		{[]string{"-timeout", "0"}, "-timeout 0s must be positive"},
		{[]string{"-timeout", "-1m"}, "-timeout -1m0s must be positive"},
		{[]string{"-quiet", "-1s"}, "-quiet -1s must be at least 0"},
		{[]string{"-list", "-cases", "idle"}, "-cases has no effect with -list"},
		{[]string{"-case", "idle", "-out", filepath.Join(dir, "x.md")}, "-out has no effect with -case"},
		{[]string{"-case", "idle", "-torch", ""}, "-torch has no effect with -case"},
		{[]string{"-torch", "", "-script", "x.py"}, "-script has no effect with -torch empty"},
		{[]string{"-torch", filepath.Join(dir, "nopython")}, "-torch " + filepath.Join(dir, "nopython") + ":"},
		{[]string{"-script", filepath.Join(dir, "none.py")}, "-script " + filepath.Join(dir, "none.py") + ":"},
		{[]string{"-out", dir}, "-out " + dir + " is a directory"},
		{[]string{"-out", plain}, "-out " + plain + " exists and has no bench markers"},
		{[]string{"-out", filepath.Join(dir, "none", "b.md")}, "-out " + filepath.Join(dir, "none", "b.md") + ": no folder " + filepath.Join(dir, "none")},
	} {
		errb.Reset()
		code := run(c.args, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), "bench: "+c.want) || strings.Count(strings.TrimSpace(errb.String()), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line with %q", c.args, code, errb.String(), c.want)
		}
	}
	errb.Reset()
	if code := run([]string{"-case", "nope"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "unknown case") {
		t.Errorf("-case nope: exit %d, stderr %q", code, errb.String())
	}
}
