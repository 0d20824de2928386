// Package methodflags defines the command-line flags that select and tune
// the attention method, shared by cmd/train and cmd/eval; the methods and
// their properties come from attn's table of methods (attn/methods.go).
package methodflags

import (
	"flag"
	"fmt"
	"strings"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/gau"
)

// Flags holds the values of the method flags.
type Flags struct {
	fs                                  *flag.FlagSet
	norm, method                        string
	cosscale, base, slope, fast, slow   float64
	window, rerope, sinks, targetLength int
}

// Register adds the flags to fs. what completes the help texts ("train
// with" or "evaluate with").
func Register(fs *flag.FlagSet, what string) *Flags {
	f := &Flags{fs: fs}
	fs.StringVar(&f.method, "method", "", what+" this positional method: "+strings.Join(attn.MethodNames(), ", ")+" (default: the config's, rope)")
	fs.Float64Var(&f.cosscale, "cosscale", 0, what+" CosScale s: cosine attention with logit s·cos (0 turns it off; default: the config's)")
	fs.Float64Var(&f.base, "softmax-plus-base", 0, "softmax_plus base: factor ln(n)/ln(base) (default 512, GAU-α's pre-training length)")
	fs.IntVar(&f.window, "window", 0, "windowed attention: keep |i-j| <= `w` (default 64)")
	fs.IntVar(&f.rerope, "rerope-window", 0, "ReRoPE window `w`: farther pairs use the distance clamped to w-1 (default n0)")
	fs.IntVar(&f.sinks, "sinks", 0, "sink tokens of StreamingLLM (default 4) and LM-Infinite (default 5)")
	fs.Float64Var(&f.slope, "alibi-slope", 0, "ALiBi slope m of Press et al.: bias -m·|i-j| on the scaled logits q·k/sqrt(d) (default 2^-8, one head; stored in config.json as m·sqrt(d), the slope on the unscaled q·k)")
	fs.Float64Var(&f.fast, "yarn-beta-fast", 0, "YaRN beta_fast (default 32)")
	fs.Float64Var(&f.slow, "yarn-beta-slow", 0, "YaRN beta_slow (default 1)")
	fs.IntVar(&f.targetLength, "target-length", 0, "PI/NTK/YaRN: fix the extension factor at target/n0 (fine-tuned models; default for training these methods and PoSE: 64·n0); 0 at evaluation: factor L/n0 per length")
	return f
}

// RegisterNorm adds -norm (a single normalisation, for training).
func (f *Flags) RegisterNorm(usage string) {
	f.fs.StringVar(&f.norm, "norm", "", usage)
}

func (f *Flags) set() map[string]bool {
	s := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { s[fl.Name] = true })
	return s
}

// Apply writes the flags that were given into cfg and checks them.
func (f *Flags) Apply(cfg *gau.Config) error {
	set := f.set()
	if set["cosscale"] {
		if !(f.cosscale >= 0) {
			return fmt.Errorf("-cosscale %v must be >= 0 (0 turns CosScale off)", f.cosscale)
		}
		cfg.CosScale = f.cosscale
	}
	if f.norm != "" {
		if _, err := attn.ParseNorm(f.norm); err != nil {
			return err
		}
		cfg.Normalization = f.norm
	}
	if f.method != "" {
		if _, err := attn.ParseMethod(f.method); err != nil {
			return err
		}
		cfg.Method = f.method
	}
	for _, v := range []struct {
		name string
		val  int
		dst  *int
	}{{"window", f.window, &cfg.Window}, {"rerope-window", f.rerope, &cfg.ReRoPEWindow}, {"sinks", f.sinks, &cfg.Sinks}, {"target-length", f.targetLength, &cfg.TargetLength}} {
		if !set[v.name] {
			continue
		}
		if v.val < 0 || v.val == 0 && v.name != "target-length" {
			return fmt.Errorf("-%s %d must be positive", v.name, v.val)
		}
		*v.dst = v.val
	}
	for _, v := range []struct {
		name string
		val  float64
		dst  *float64
	}{{"softmax-plus-base", f.base, &cfg.SoftmaxPlusBase}, {"alibi-slope", f.slope, &cfg.ALiBiSlope}, {"yarn-beta-fast", f.fast, &cfg.YaRNBetaFast}, {"yarn-beta-slow", f.slow, &cfg.YaRNBetaSlow}} {
		// config.json's alibi_slope is the slope inside the kernels'
		// bracket (q·k + bias)/sqrt(d); the flag is Press et al.'s m.
		if !set[v.name] {
			continue
		}
		if !(v.val > 0) {
			return fmt.Errorf("-%s %v must be positive", v.name, v.val)
		}
		*v.dst = v.val
		if v.name == "alibi-slope" {
			*v.dst = attn.PressALiBiSlope(v.val, cfg.KeySize)
		}
	}
	return nil
}

// NeedsTarget reports whether training a model with method m fixes a target
// length (attn.MethodSpec.Target: PI, NTK, YaRN and PoSE are trained for
// one).
func NeedsTarget(m string) bool {
	mm, err := attn.ParseMethod(m)
	return err == nil && mm.Spec().Target
}
