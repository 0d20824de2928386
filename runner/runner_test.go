package runner

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/study"
)

// newTest returns a runner of the cpu profile's study in a fresh folder,
// with stand-ins for the tools.
func newTest(t *testing.T, launch []string) *Runner {
	t.Helper()
	bin := t.TempDir()
	for _, tool := range Tools() {
		if err := os.WriteFile(filepath.Join(bin, tool), []byte("#!/bin/sh\n# "+tool+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p, err := study.NamedProfile("cpu")
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(study.Study{Profile: p, Out: t.TempDir(), Corpus: "embedded"}, Options{Bin: bin, Launch: launch, Log: &strings.Builder{}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A part's fingerprint is study.Fingerprint of its tool's digest and its
// arguments, with the launcher in front when it starts the tool; its
// command line carries the launcher too.
func TestResolveFingerprint(t *testing.T) {
	for _, launch := range [][]string{nil, {"mpirun", "-np", "2"}} {
		r := newTest(t, launch)
		pt := r.parts[0]
		if pt.Tool != "train" || len(pt.Needs)+len(pt.Reads) > 0 {
			t.Fatalf("the first part is %s of %s, reading %v %v", pt.Name, pt.Tool, pt.Needs, pt.Reads)
		}
		rp, err := r.resolve(pt)
		if err != nil {
			t.Fatal(err)
		}
		args := pt.Args
		if launch != nil {
			args = append(append([]string{"launch:"}, launch...), pt.Args...)
		}
		if want := study.Fingerprint(r.tools["train"], args, nil); rp.fingerprint != want {
			t.Errorf("launch %v: fingerprint %s, want %s", launch, rp.fingerprint, want)
		}
		cmd := r.command(rp)
		if want := strings.Join(launch, " "); !strings.HasPrefix(cmd, want) || !strings.Contains(cmd, pt.Command()) {
			t.Errorf("launch %v: command %q", launch, cmd)
		}
	}
}

// A part that reads the outputs of one that has not run cannot be
// resolved; a placeholder is filled in from the outputs before it.
func TestResolveNeedsRecords(t *testing.T) {
	r := newTest(t, nil)
	i := slices.IndexFunc(r.parts, func(p study.Part) bool { return len(p.Needs) > 0 })
	if i < 0 {
		t.Fatal("no part reads another's weights")
	}
	if _, err := r.resolve(r.parts[i]); err == nil || !strings.Contains(err.Error(), "has not run") {
		t.Errorf("resolving %q before its inputs ran: %v", r.parts[i].Name, err)
	}
}

// A folder recording a study of another profile is refused.
func TestNewRefusesOtherStudy(t *testing.T) {
	r := newTest(t, nil)
	if err := study.WriteRecords(r.o.Out, study.Records{Profile: "gpu", Rules: 2}); err != nil {
		t.Fatal(err)
	}
	_, err := New(r.o.Study, r.o.Options)
	if err == nil || !strings.Contains(err.Error(), "gpu profile") {
		t.Errorf("got %v, want a refusal naming the gpu profile", err)
	}
}

func TestWeightsPresent(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), nil, 0o644)
	os.MkdirAll(filepath.Join(dir, "step-10"), 0o755)
	for _, c := range []struct {
		paths []string
		want  bool
	}{
		{nil, true},
		{[]string{filepath.Join(dir, "a")}, true},
		{[]string{filepath.Join(dir, "a"), filepath.Join(dir, "b")}, false},
		{[]string{filepath.Join(dir, "step-*")}, true},
		{[]string{filepath.Join(dir, "last-*")}, false},
	} {
		if got := weightsPresent(c.paths); got != c.want {
			t.Errorf("weightsPresent(%v) = %v, want %v", c.paths, got, c.want)
		}
	}
	// The digest covers the files without a *, named relative to the
	// study's folder.
	d1, err := weightsDigest(dir, []string{filepath.Join(dir, "a"), filepath.Join(dir, "step-*")})
	if err != nil {
		t.Fatal(err)
	}
	if d2, _ := study.FileDigest(dir, filepath.Join(dir, "a")); d1 != d2 {
		t.Errorf("digest %s, want %s", d1, d2)
	}
	if d, err := weightsDigest(dir, []string{filepath.Join(dir, "step-*")}); d != "" || err != nil {
		t.Errorf("digest of globs only: %q, %v", d, err)
	}
}

func TestLastLine(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ text, want string }{
		{"progress\ntrain: it failed\n\n", "train: it failed"},
		{"", ""},
	} {
		p := filepath.Join(dir, "log")
		os.WriteFile(p, []byte(c.text), 0o644)
		if got := lastLine(p); got != c.want {
			t.Errorf("lastLine(%q) = %q, want %q", c.text, got, c.want)
		}
	}
	if got := lastLine(filepath.Join(dir, "missing")); got != "" {
		t.Errorf("lastLine of a missing file = %q", got)
	}
}
