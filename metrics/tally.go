// Package metrics scores masked-token predictions: accuracy (argmax over the
// whole vocabulary), mean cross-entropy and perplexity, accumulated over
// batches in a Tally.
package metrics

import (
	"math"

	"github.com/infoscale/gaualpha/pipeline"
)

// Tally accumulates masked-token predictions.
type Tally struct {
	Count   int     `json:"count"`
	Correct int     `json:"correct"`
	SumLoss float64 `json:"sum_loss"`
}

// Add scores rows of logits (width v) against targets: the cross-entropy of
// the target and whether the argmax over the whole vocabulary equals it.
// Rows with target pipeline.IgnoreTarget are skipped.
func (t *Tally) Add(logits []float32, targets []int, v int) {
	for r, tg := range targets {
		if tg == pipeline.IgnoreTarget {
			continue
		}
		row := logits[r*v : (r+1)*v]
		best := 0
		mx := math.Inf(-1)
		for i, x := range row {
			if float64(x) > mx {
				mx, best = float64(x), i
			}
		}
		var s float64
		for _, x := range row {
			s += math.Exp(float64(x) - mx)
		}
		t.SumLoss += mx + math.Log(s) - float64(row[tg])
		if best == tg {
			t.Correct++
		}
		t.Count++
	}
}

// Merge adds another tally.
func (t *Tally) Merge(o Tally) {
	t.Count += o.Count
	t.Correct += o.Correct
	t.SumLoss += o.SumLoss
}

// Loss is the mean cross-entropy (NaN when empty).
func (t Tally) Loss() float64 {
	if t.Count == 0 {
		return math.NaN()
	}
	return t.SumLoss / float64(t.Count)
}

// Accuracy is the share of argmax hits (NaN when empty).
func (t Tally) Accuracy() float64 {
	if t.Count == 0 {
		return math.NaN()
	}
	return float64(t.Correct) / float64(t.Count)
}

// Perplexity is exp(Loss).
func (t Tally) Perplexity() float64 { return math.Exp(t.Loss()) }
