package study

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRecordsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	r, ok, err := ReadRecords(dir)
	if err != nil || ok || r.Parts == nil {
		t.Fatalf("no file: %+v %v %v", r, ok, err)
	}
	h := Host{CPU: "x", CPUs: 2, GOMAXPROCS: 2, MemoryGiB: 8, OS: "linux", Arch: "amd64", Go: "go1"}
	other := h
	other.CPU = "y"
	r = Records{Profile: "cpu", Rules: 3, Parts: map[string]PartRecord{
		"b": {Command: "train -x", Fingerprint: "f1", Digest: "d1", Seconds: 3, Finished: "2026-12-08T10:00:00Z", Host: h},
		"a": {Command: "suite", Fingerprint: "f2", Seconds: 4, Finished: "2026-12-09T11:00:00Z", Host: other},
		"c": {Command: "analyze", Fingerprint: "f3", Seconds: 1, Finished: "2026-12-08T12:00:00Z", Host: h},
	}}
	if err := WriteRecords(dir, r); err != nil {
		t.Fatal(err)
	}
	back, ok, err := ReadRecords(dir)
	if err != nil || !ok || back.Rules != 3 || back.Parts["b"] != r.Parts["b"] {
		t.Fatalf("read back %+v %v %v", back, ok, err)
	}
	first, last, hosts := back.Span()
	if !first.Equal(time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)) || !last.Equal(time.Date(2026, 12, 9, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("span %v .. %v", first, last)
	}
	if len(hosts) != 2 || hosts[0] != h || hosts[1] != other {
		t.Errorf("hosts %+v", hosts)
	}
	if s := h.String(); !strings.Contains(s, "x; 2 logical CPUs (GOMAXPROCS 2); 8 GiB memory; linux/amd64; go1") {
		t.Errorf("host line %q", s)
	}
	os.WriteFile(RecordsFile(dir), []byte("{"), 0o644)
	if _, _, err := ReadRecords(dir); err == nil || !strings.Contains(err.Error(), "parts.json") {
		t.Errorf("corrupt records: %v", err)
	}
}

func TestFingerprint(t *testing.T) {
	deps := []Dep{{"train a", "fa", "da"}, {"train b", "fb", ""}}
	f := Fingerprint("tool", []string{"-x", "1"}, deps)
	if f != Fingerprint("tool", []string{"-x", "1"}, []Dep{deps[1], deps[0]}) {
		t.Error("the fingerprint depends on the order of the dependencies")
	}
	for name, g := range map[string]string{
		"tool":   Fingerprint("tool2", []string{"-x", "1"}, deps),
		"args":   Fingerprint("tool", []string{"-x", "2"}, deps),
		"split":  Fingerprint("tool", []string{"-x 1"}, deps),
		"digest": Fingerprint("tool", []string{"-x", "1"}, []Dep{{"train a", "fa", "dz"}, deps[1]}),
		"dep":    Fingerprint("tool", []string{"-x", "1"}, deps[:1]),
	} {
		if g == f {
			t.Errorf("a change of the %s leaves the fingerprint", name)
		}
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, []byte("one"), 0o644)
	os.WriteFile(b, []byte("two"), 0o644)
	d1, err := FileDigest(dir, a, b)
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := FileDigest(dir, b, a)
	os.WriteFile(b, []byte("twO"), 0o644)
	d3, _ := FileDigest(dir, a, b)
	if d1 == d2 || d1 == d3 {
		t.Errorf("digests %s %s %s", d1, d2, d3)
	}
	if _, err := FileDigest(dir, filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file has a digest")
	}
}

func TestConfigKeyAndSeededModels(t *testing.T) {
	for _, k := range []ConfigKey{
		{CosScale: 0, Method: "ntk", Norm: "softmax_plus_n0"},
		{CosScale: 128, Method: "pi", FineTune: true, Norm: "infoscale"},
		{CosScale: 32, Method: "pose", FineTune: true, Norm: "yarn_temp"},
		{CosScale: 0, Method: "pi", Norm: "softmax"},
	} {
		back, err := ParseConfigKey(k.String())
		if err != nil || back != k {
			t.Errorf("%v → %q → %v, %v", k, k.String(), back, err)
		}
	}
	if got := (ConfigKey{CosScale: 128, Method: "pi", FineTune: true, Norm: "infoscale"}).String(); got != "cos128/pi-ft/infoscale" {
		t.Errorf("pi-ft key %q", got)
	}
	for _, bad := range []string{"cos0/ntk", "x0/ntk/softmax", "cos-1/ntk/softmax", "cos0/nope/softmax", "cos0//softmax"} {
		if _, err := ParseConfigKey(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	o := Study{Out: "res", Profile: Profile{Headline: 128, Seeds: []int{42, 43}}}
	for m, want := range map[Model][2]string{
		{Role: Plain}:           {"base-cos0", "res/models/base-cos0"},
		{Role: Plain, Seed: 43}: {"s43/base-cos0", "res/seeds/s43/models/base-cos0"},
		{Role: FineTune, CosScale: 128, Method: "pi", Seed: 42}: {"s42/suite/cos128/ft-pi", "res/seeds/s42/suite/cos128/ft-pi"},
		{Role: Sweep, CosScale: 8}:                              {"cos8", "res/models/cos8"},
	} {
		if m.Name() != want[0] || o.Dir(m) != filepath.FromSlash(want[1]) {
			t.Errorf("%+v: %s in %s, want %v", m, m.Name(), o.Dir(m), want)
		}
	}
}
