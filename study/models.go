package study

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Role is a model's place in the study.
type Role int

// The models of the study.
const (
	// Plain is the plain base model (RoPE, softmax, CosScale off).
	Plain Role = iota
	// Sweep is a model of the CosScale sweep.
	Sweep
	// BestBase is the CosScale base model at the sweep's best CosScale.
	BestBase
	// HeadlineBase is the CosScale base model at the paper's headline
	// CosScale.
	HeadlineBase
	// FineTune is a fine-tune of the suite.
	FineTune
)

// Model names a trained model of the study.
type Model struct {
	Role Role
	// CosScale is a sweep model's or the headline base's CosScale, or that
	// of the base model a fine-tune started from.
	CosScale float64
	// Method is a fine-tune's method.
	Method string
	// Seed is the seed of a model trained with several seeds (its files
	// under seeds/sSEED/); 0 for a model trained once, with the profile's
	// seed (the sweep, and every model of a study with one seed).
	Seed int
}

// Name is the model's name in the study's tables: its directory under
// models/ (base-cos0, cos16, base-cosbest, base-cos128), or a fine-tune's
// directory (suite/cos0/ft-pi), prefixed with sSEED/ for a model of one of
// several seeds (s43/base-cos0, s43/suite/cos0/ft-pi).
func (m Model) Name() string {
	if m.Seed != 0 {
		u := m
		u.Seed = 0
		return SeedName(m.Seed) + "/" + u.Name()
	}
	switch m.Role {
	case Plain:
		return "base-cos0"
	case Sweep:
		return CosName(m.CosScale)
	case BestBase:
		return "base-cosbest"
	case HeadlineBase:
		return "base-" + CosName(m.CosScale)
	}
	return "suite/" + CosName(m.CosScale) + "/ft-" + m.Method
}

// SeedName names a seed's folder: sSEED.
func SeedName(seed int) string { return fmt.Sprintf("s%d", seed) }

// SeedDir is the folder of one seed's models and evaluations: seeds/sSEED.
func (o Study) SeedDir(seed int) string { return filepath.Join(o.Out, "seeds", SeedName(seed)) }

// Seed is the study of one seed's models: the same profile, its outputs in
// SeedDir(seed), laid out as a study of one seed (models/, suite/).
func (o Study) Seed(seed int) Study {
	s := o
	s.Out = o.SeedDir(seed)
	return s
}

// Dir is the model's run directory (holding best/ and last/).
func (o Study) Dir(m Model) string {
	if m.Seed != 0 {
		u := m
		u.Seed = 0
		return o.Seed(m.Seed).Dir(u)
	}
	if m.Role == FineTune {
		return filepath.Join(o.Out, filepath.FromSlash(m.Name()))
	}
	return o.ModelDir(m.Name())
}

// TrainedModel is a model found in the study directory with its best
// validation loss (HasLoss false when its states record none).
type TrainedModel struct {
	Model
	Loss    float64
	HasLoss bool
}

// TrainedModels lists the models of the study whose directories exist: the
// sweep in the profile's order, then for the profile's one seed (or for
// each of its Seeds) the plain model, the CosScale bases and the suite's
// fine-tunes in the order of their directories' names.
func (o Study) TrainedModels() []TrainedModel {
	var ms []Model
	for _, s := range o.Profile.Sweep {
		ms = append(ms, Model{Role: Sweep, CosScale: s})
	}
	seeds := o.Profile.Seeds
	if len(seeds) == 0 {
		seeds = []int{0}
	}
	for _, seed := range seeds {
		ms = append(ms, Model{Role: Plain, Seed: seed}, Model{Role: BestBase, Seed: seed})
		if o.Profile.Headline > 0 {
			ms = append(ms, Model{Role: HeadlineBase, CosScale: o.Profile.Headline, Seed: seed})
		}
		out := o.Out
		if seed != 0 {
			out = o.SeedDir(seed)
		}
		fts, _ := filepath.Glob(filepath.Join(out, "suite", "cos*", "ft-*"))
		for _, dir := range fts {
			s, err := strconv.ParseFloat(strings.TrimPrefix(filepath.Base(filepath.Dir(dir)), "cos"), 64)
			if err != nil {
				continue
			}
			ms = append(ms, Model{Role: FineTune, CosScale: s, Method: strings.TrimPrefix(filepath.Base(dir), "ft-"), Seed: seed})
		}
	}
	var out []TrainedModel
	for _, m := range ms {
		dir := o.Dir(m)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		loss, ok := BestValLoss(dir)
		out = append(out, TrainedModel{Model: m, Loss: loss, HasLoss: ok})
	}
	return out
}
