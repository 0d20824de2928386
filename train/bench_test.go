package train

import (
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/tokenizer"
)

// defaultTrainer is the trainer of the default model (batch 32 at n0 = 64)
// on the embedded corpus, as go run ./cmd/train makes it.
func defaultTrainer(tb testing.TB) *Trainer {
	tb.Helper()
	docs, err := corpus.Embedded()
	if err != nil {
		tb.Fatal(err)
	}
	tr, va := corpus.Split(docs, 0.8)
	v, err := tokenizer.Build(func(yield func(string) bool) {
		for _, d := range tr {
			if !yield(d.Text) {
				return
			}
		}
	}, 2, 12000)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := gau.DefaultConfig()
	cfg.VocabSize = v.Size()
	trs, _ := Sequences(tr, v, cfg.TrainLength)
	vas, _ := Sequences(va[:20], v, cfg.TrainLength)
	o := DefaultOptions()
	o.Steps = 1 << 20
	p := gau.InitParams(cfg, tensor.Float32, rand.New(rand.NewPCG(1, 2)))
	t, err := New(cfg, v, p, trs, vas, o)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// BenchmarkTrainStepDefault times one training step of the default model
// (batch 32 at n0 = 64) on the embedded corpus.
func BenchmarkTrainStepDefault(b *testing.B) {
	t := defaultTrainer(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := t.Step(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*t.opts.Batch*t.Config.TrainLength)/b.Elapsed().Seconds(), "tokens/s")
}
