package metrics

import (
	"math"
	"testing"

	"github.com/infoscale/gaualpha/pipeline"
)

func TestTally(t *testing.T) {
	var tl Tally
	// Row 0: target 2 is the argmax; row 1: target 1 is not; row 2 ignored.
	logits := []float32{0, 1, 3, 2, 0, 0, 9, 9, 9}
	tl.Add(logits, []int{2, 1, pipeline.IgnoreTarget}, 3)
	lse0 := math.Log(1 + math.E + math.Exp(3))
	lse1 := math.Log(math.Exp(2) + 2)
	if tl.Count != 2 || tl.Correct != 1 {
		t.Fatalf("count %d correct %d", tl.Count, tl.Correct)
	}
	if want := ((lse0 - 3) + (lse1 - 0)) / 2; math.Abs(tl.Loss()-want) > 1e-6 {
		t.Errorf("loss %v, want %v", tl.Loss(), want)
	}
	if tl.Accuracy() != 0.5 || math.Abs(tl.Perplexity()-math.Exp(tl.Loss())) > 1e-12 {
		t.Errorf("accuracy %v perplexity %v", tl.Accuracy(), tl.Perplexity())
	}
}
