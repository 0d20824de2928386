package baseline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/internal/runlock"
)

func TestMethod(t *testing.T) {
	for _, c := range []struct {
		name      string
		ok, tuned bool
	}{{"rope", true, false}, {"pi", true, false}, {"pi-ft", true, true}, {"alibi", true, true}, {"pose", true, true}, {"flash", false, false}} {
		m, ok := Method(c.name)
		if ok != c.ok || m.FineTuned != c.tuned || ok && m.Name != c.name {
			t.Errorf("Method(%q) = %+v, %v", c.name, m, ok)
		}
	}
}

// The fine-tunes' recipes: PI at L' = 4·n0 (or -pi-length) with scale
// L'/n0 and the batch scaled by n0/L', PoSE towards 64·n0, ALiBi with the
// slope asked for; the training options from the suite's settings.
func TestRecipe(t *testing.T) {
	base := gau.DefaultConfig()
	n0 := base.TrainLength
	o := Options{Steps: 10, Batch: 32, LR: 2e-4, Seed: 7, PasskeyEvery: 16}
	cfg, opts, err := recipe(base, "pi-ft", o)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Method != "pi" || cfg.TrainLength != 4*n0 || cfg.TargetLength != 16*n0 || opts.Batch != 8 {
		t.Errorf("pi-ft: method %s, train %d, target %d, batch %d", cfg.Method, cfg.TrainLength, cfg.TargetLength, opts.Batch)
	}
	if opts.Steps != 10 || opts.LR != 2e-4 || opts.Seed != 7 || opts.EvalEvery != 2 || opts.PasskeyEvery != 16 || opts.PoSE {
		t.Errorf("pi-ft options %+v", opts)
	}
	o.PiLen = 2 * n0
	if cfg, opts, _ = recipe(base, "pi-ft", o); cfg.TrainLength != 2*n0 || cfg.TargetLength != 4*n0 || opts.Batch != 16 {
		t.Errorf("pi-ft at 2·n0: train %d, target %d, batch %d", cfg.TrainLength, cfg.TargetLength, opts.Batch)
	}
	o.PiLen = n0
	if _, _, err := recipe(base, "pi-ft", o); err == nil || !strings.Contains(err.Error(), "-pi-length") {
		t.Errorf("pi-ft at n0: %v, want an error naming -pi-length", err)
	}
	cfg, opts, _ = recipe(base, "pose", o)
	if cfg.Method != "pose" || cfg.TargetLength != 64*n0 || !opts.PoSE || opts.PoSETarget != 64*n0 || opts.Batch != 32 {
		t.Errorf("pose: %s target %d, options %+v", cfg.Method, cfg.TargetLength, opts)
	}
	cfg, _, _ = recipe(base, "alibi", o)
	if cfg.Method != "alibi" || cfg.ALiBiSlope != base.ALiBiSlope {
		t.Errorf("alibi, default slope: %s %v", cfg.Method, cfg.ALiBiSlope)
	}
	o.AlibiSlope = 0.25
	if cfg, _, _ = recipe(base, "alibi", o); cfg.ALiBiSlope != attn.PressALiBiSlope(0.25, base.KeySize) {
		t.Errorf("alibi, slope 0.25: %v", cfg.ALiBiSlope)
	}
}

// A length over the evaluation's budget is refused naming where it came
// from.
func TestCheckLengths(t *testing.T) {
	cfg := gau.DefaultConfig()
	if err := CheckLengths(cfg, []int{128, 4096}, false); err != nil {
		t.Fatal(err)
	}
	for _, given := range []bool{false, true} {
		want := "the default -lengths"
		if given {
			want = "-lengths: length 16777216"
		}
		if err := CheckLengths(cfg, []int{128, 1 << 24}, given); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("given %v: %v, want an error naming %q", given, err, want)
		}
	}
}

// Clearing a fine-tune's folder keeps its lock.
func TestClearRun(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{runlock.FileName, "metrics.jsonl", "best/model.safetensors"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	if err := clearRun(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != runlock.FileName {
		t.Errorf("left %v, want the lock alone", entries)
	}
}
