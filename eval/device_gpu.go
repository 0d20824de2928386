//go:build gpu || gpuemu

package eval

import (
	"fmt"

	"github.com/infoscale/gaualpha/gpu/graphexec"
	"github.com/infoscale/gaualpha/layers"
)

func init() { deviceSessions["cuda"] = openGPUSession }

// gpuSession evaluates on a GPU: the inference graphs (gated attention)
// run by gpu/graphexec over weights uploaded once for the whole
// evaluation; per batch the masked copies' ids go up and the head's logits
// come down.
type gpuSession struct{ res *graphexec.Resident }

func openGPUSession(p *layers.Params, bf16 bool) (session, error) {
	dev, err := graphexec.Shared()
	if err != nil {
		return nil, fmt.Errorf("evaluation on cuda: %w", err)
	}
	res := graphexec.NewResident(dev)
	res.BF16 = bf16
	return &gpuSession{res: res}, nil
}

func (s *gpuSession) build(cfg layers.Config, p *layers.Params, opt layers.Options) (runner, error) {
	lm, err := layers.Build(cfg, p, opt)
	if err != nil {
		return nil, err
	}
	m, err := graphexec.NewModel(s.res, lm)
	if err != nil {
		return nil, err
	}
	return &gpuRunner{m: m}, nil
}

func (s *gpuSession) close() error { return s.res.Close() }

type gpuRunner struct {
	m      *graphexec.Model
	logits []float32
}

func (r *gpuRunner) run(bt *layers.Batch) ([]float32, error) {
	if err := r.m.Run(bt); err != nil {
		return nil, err
	}
	var err error
	r.logits, err = r.m.LogitsValue(r.logits)
	return r.logits, err
}

func (r *gpuRunner) close() error { return r.m.Close() }
