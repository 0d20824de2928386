package methodflags

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/gau"
)

func TestApply(t *testing.T) {
	cases := []struct {
		args []string
		want func(c gau.Config) bool
		err  string
	}{
		{[]string{}, func(c gau.Config) bool { return c == gau.DefaultConfig() }, ""},
		{[]string{"-method", "rerope", "-rerope-window", "32"}, func(c gau.Config) bool { return c.Method == "rerope" && c.ReRoPEWindow == 32 }, ""},
		{[]string{"-cosscale", "0"}, func(c gau.Config) bool { return c.CosScale == 0 }, ""},
		{[]string{"-cosscale", "16", "-norm", "infoscale"}, func(c gau.Config) bool { return c.CosScale == 16 && c.Normalization == "infoscale" }, ""},
		// The default key size is 64: Press's m = 0.5 is 0.5·sqrt(64) = 4 in config.json.
		{[]string{"-alibi-slope", "0.5", "-window", "8", "-sinks", "2", "-yarn-beta-fast", "16", "-yarn-beta-slow", "2", "-softmax-plus-base", "64", "-target-length", "1024"},
			func(c gau.Config) bool {
				return c.ALiBiSlope == 0.5*8 && c.Window == 8 && c.Sinks == 2 && c.YaRNBetaFast == 16 && c.YaRNBetaSlow == 2 && c.SoftmaxPlusBase == 64 && c.TargetLength == 1024
			}, ""},
		{[]string{"-cosscale", "-1"}, nil, "-cosscale"},
		{[]string{"-method", "xpos"}, nil, "unknown method"},
		{[]string{"-norm", "max"}, nil, "unknown normalisation"},
		{[]string{"-window", "0"}, nil, "-window 0"},
		{[]string{"-alibi-slope", "-1"}, nil, "-alibi-slope"},
	}
	for _, c := range cases {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		f := Register(fs, "use")
		f.RegisterNorm("norm")
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		cfg := gau.DefaultConfig()
		err := f.Apply(&cfg)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%v: got %v, want an error containing %q", c.args, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%v: %v", c.args, err)
		case c.err == "" && !c.want(cfg):
			t.Errorf("%v: config %+v", c.args, cfg)
		}
	}
	if !NeedsTarget("pi") || NeedsTarget("rope") {
		t.Error("NeedsTarget")
	}
}
