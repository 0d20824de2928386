package verdict

import (
	"fmt"

	"github.com/infoscale/gaualpha/stats"
	"github.com/infoscale/gaualpha/study"
)

// Exclusions are the models that failed to train, with the reason.
type Exclusions map[study.Model]string

// Excluded reports whether m failed to train.
func (e Exclusions) Excluded(m study.Model) bool { return e[m] != "" }

// Exclude applies the exclusion rule to the trained models: a model whose
// best validation loss is more than FailFactor times its reference failed to
// train (sweep models: the sweep's median; CosScale bases: the plain
// model's; fine-tunes: their base model's, the CosScale base of their
// CosScale when there is one, else the sweep's best CosScale base), and a
// model without a recorded validation loss cannot be cleared. A model of
// one of several seeds is measured against the models of its seed. Rules
// without an exclusion rule exclude nothing.
func (r Rules) Exclude(models []study.TrainedModel) Exclusions {
	ex := Exclusions{}
	if r.FailFactor == 0 {
		return ex
	}
	byModel := map[study.Model]study.TrainedModel{}
	var sweep []float64
	for _, m := range models {
		byModel[m.Model] = m
		if !m.HasLoss {
			ex[m.Model] = "no validation loss recorded (trainer_state.json missing or without best_val_loss), so the rule cannot clear it"
			continue
		}
		if m.Role == study.Sweep {
			sweep = append(sweep, m.Loss)
		}
	}
	med := stats.Median(sweep)
	failed := func(m study.TrainedModel, ref float64) bool { return m.HasLoss && m.Loss > r.FailFactor*ref }
	for _, m := range models {
		plain, okPlain := byModel[study.Model{Role: study.Plain, Seed: m.Seed}]
		okPlain = okPlain && plain.HasLoss
		switch m.Role {
		case study.Sweep:
			if failed(m, med) {
				ex[m.Model] = fmt.Sprintf("validation loss %.4f > %g × the sweep median %.4f", m.Loss, r.FailFactor, med)
			}
		case study.BestBase, study.HeadlineBase:
			if okPlain && failed(m, plain.Loss) {
				ex[m.Model] = fmt.Sprintf("validation loss %.4f > %g × the plain model's %.4f", m.Loss, r.FailFactor, plain.Loss)
			}
		case study.FineTune:
			ref := study.Model{Role: study.Plain, Seed: m.Seed}
			if m.CosScale != 0 {
				ref = study.Model{Role: study.HeadlineBase, CosScale: m.CosScale, Seed: m.Seed}
				if _, ok := byModel[ref]; !ok {
					ref = study.Model{Role: study.BestBase, Seed: m.Seed}
				}
			}
			if b, ok := byModel[ref]; ok && b.HasLoss && failed(m, b.Loss) {
				ex[m.Model] = fmt.Sprintf("validation loss %.4f > %g × %s's %.4f", m.Loss, r.FailFactor, ref.Name(), b.Loss)
			}
		}
	}
	return ex
}
