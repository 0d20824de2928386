package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/infoscale/gaualpha/analysis"
	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/figures"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/internal/cli"
	"github.com/infoscale/gaualpha/study"
)

func runEntropy(args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("entropy", "-ckpt DIR [flags]",
		"Mean attention entropy per query row, -Σ_j p_ij ln p_ij in nats, against the sequence\n"+
			"length n for each normalisation, per layer and over all layers, with ln n (the\n"+
			"entropy of uniform attention) for reference. Each test document is tiled or cut to n\n"+
			"tokens; no token is masked and no row is excluded. Writes entropy.png,\n"+
			"entropy_layers.png, entropy.csv and entropy_docs.csv.", stderr)
	m := modelFlags(fs, "checkpoint `dir`; required", true)
	lengths := fs.String("lengths", "", "comma-separated sequence lengths (default n0, 2n0, ..., 64n0: 64,128,...,4096 for n0 = 64)")
	norms := fs.String("norm", "softmax,softmax_plus,softmax_plus_n0,infoscale", "comma-separated normalisations: softmax, softmax_plus (the model's base, 512 by default), softmax_plus_n0 (base n0), infoscale")
	var ls []int
	var ns []string
	ms, be, err := m.prepare(c, fs, args, func() error { return nil }, func(ms []analysis.Model) (string, float64, error) {
		if len(ms) != 1 {
			return "", 0, fmt.Errorf("-ckpt: entropy analyses one checkpoint, got %d", len(ms))
		}
		var given []int
		var err error
		if *lengths != "" {
			if given, err = cli.Ints("-lengths", *lengths, 2); err != nil {
				return "", 0, err
			}
		}
		ls = analysis.EntropyLengths(ms[0], given)
		what := fmt.Sprintf("-lengths: length %d", slices.Max(ls))
		if given == nil {
			what = fmt.Sprintf("the default lengths up to 64·n0 = %d (-lengths sets others)", slices.Max(ls))
		}
		if ns, err = analysis.Norms(ms[0], *norms); err != nil {
			return "", 0, err
		}
		return what, analysis.EntropyBytes(ms[0].Config, slices.Max(ls)), nil
	})
	if err != nil {
		return err
	}
	defer be.Close()
	md := ms[0]
	toks, ids, err := m.documents(slices.Max(ls))(md)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.progress(stderr), "test documents: %s\n", strings.Join(ids, ", "))
	rows, perDoc, err := analysis.Entropy(be, md, toks, ns, ls, c.progress(stderr))
	if err != nil {
		return err
	}
	title := fmt.Sprintf("Attention entropy, mean over rows and layers (%s)", md.Name())
	return c.save(stdout, analysis.EntropyTable(rows, ns, ls),
		func() error { return study.Entropy.Write(c.path("entropy.csv"), rows) },
		func() error { return study.EntropyDocs.Write(c.path("entropy_docs.csv"), perDoc) },
		func() error { return figures.Entropy(c.path("entropy.png"), rows, ns, ls, title, c.dpi) },
		func() error {
			return figures.EntropyLayers(c.path("entropy_layers.png"), rows, ns, ls, md.Config.NumLayers, c.dpi)
		})
}

func runEta(args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("eta", "-ckpt DIR[,DIR...] [flags]",
		"For models trained with different CosScale values s (read from each config.json):\n"+
			"the histogram of cos(q_i, k_j) over all query/key pairs before RoPE (bins of 0.01\n"+
			"on [-1, 1]), per layer and pooled, and its peak η1* (the mode of the histogram\n"+
			"smoothed by a Gaussian of -smooth bins, refined by a parabola). Also the same\n"+
			"after RoPE and weighted by the attention probability p_ij, and the prediction\n"+
			"of the von Mises-Fisher tilt argument, η* = (sqrt((d-3)² + 4κ²) - (d-3)) / (2κ)\n"+
			"with κ = s·c(L)·m. Writes eta_hist.png, eta_layers.png, eta_peak.png, eta_hist.csv\n"+
			"and eta_peak.csv.", stderr)
	m := modelFlags(fs, "comma-separated checkpoint `dirs` (one per CosScale value); required", true)
	L := fs.Int("L", 1024, "sequence length (documents tiled or cut to it)")
	sigma := fs.Float64("smooth", 5, "standard deviation of the Gaussian smoothing before taking the mode, in bins of 0.001 (0: none)")
	ms, be, err := m.prepare(c, fs, args, func() error {
		if *L < 2 {
			return fmt.Errorf("-L %d must be at least 2", *L)
		}
		if !(*sigma >= 0 && *sigma <= 500) {
			return fmt.Errorf("-smooth %v outside [0, 500]", *sigma)
		}
		return nil
	}, func(ms []analysis.Model) (string, float64, error) {
		return fmt.Sprintf("-L %d", *L), maxBytes(ms, func(cfg gau.Config) float64 { return analysis.EtaBytes(cfg, *L) }), nil
	})
	if err != nil {
		return err
	}
	defer be.Close()
	analysis.ByCosScale(ms)
	results, hist, peak, err := analysis.EtaModels(be, ms, m.documents(*L), *L, *sigma, c.progress(stderr))
	if err != nil {
		return err
	}
	return c.save(stdout, analysis.EtaTable(results, *sigma),
		func() error { return study.EtaHist.Write(c.path("eta_hist.csv"), hist) },
		func() error { return study.EtaPeak.Write(c.path("eta_peak.csv"), peak) },
		func() error {
			return figures.EtaHists(c.path("eta_hist.png"), c.path("eta_layers.png"), results, c.dpi)
		},
		func() error { return figures.EtaPeak(c.path("eta_peak.png"), results, *sigma, *L, c.dpi) })
}

func runHeatmap(args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("heatmap", "-ckpt DIR[,DIR...] [flags]",
		"The paper's figure 5: the matrix of q_i·k_j (row i = query, column j = key) of one\n"+
			"layer on one test document, before RoPE (top row) and after RoPE (bottom row), one\n"+
			"column per model ordered by CosScale. The two maps of a column are scaled together\n"+
			"to [0, 1] by their common minimum and maximum. q and k are taken after ScaleOffset\n"+
			"and CosScale, without the logit scale. Writes heatmap.png and heatmap.csv (summary\n"+
			"statistics of each matrix, not the matrices).", stderr)
	m := modelFlags(fs, "comma-separated checkpoint `dirs`; required", false)
	L := fs.Int("L", 1024, "sequence length (the document is tiled or cut to it)")
	layer := fs.Int("layer", 0, "layer whose q and k are shown (0-based: 0 is the first)")
	doc := fs.Int("doc", 0, "which of the 10 test documents to use (0-based)")
	ms, be, err := m.prepare(c, fs, args, func() error {
		if *L < 2 {
			return fmt.Errorf("-L %d must be at least 2", *L)
		}
		if *doc < 0 || *doc > 9 {
			return fmt.Errorf("-doc %d outside 0..9", *doc)
		}
		return nil
	}, func(ms []analysis.Model) (string, float64, error) {
		var cfgs []gau.Config
		for _, md := range ms {
			if *layer < 0 || *layer >= md.Config.NumLayers {
				return "", 0, fmt.Errorf("-layer %d: %s has %d layers", *layer, md.Dir, md.Config.NumLayers)
			}
			cfgs = append(cfgs, md.Config)
		}
		return fmt.Sprintf("-L %d (two L×L matrices per model, %s)", *L, plural(len(ms), "model")), analysis.HeatmapBytes(cfgs, *L), nil
	})
	if err != nil {
		return err
	}
	defer be.Close()
	analysis.ByCosScale(ms)
	tenDocs := func(md analysis.Model) ([][]int, []string, error) {
		return analysis.TestDocuments(m.corpus, md, 10, *L)
	}
	maps, rows, err := analysis.HeatmapModels(be, ms, tenDocs, *doc, *L, *layer, c.progress(stderr))
	if err != nil {
		return err
	}
	return c.save(stdout, "",
		func() error { return study.Heatmap.Write(c.path("heatmap.csv"), rows) },
		func() error { return figures.Heatmaps(c.path("heatmap.png"), maps, c.dpi) })
}

func runBand(args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("band", "-ckpt DIR[,DIR...] [flags]",
		"The share of each query row's attention mass on keys within ±w of it (|i-j| <= w),\n"+
			"averaged over rows, layers and test documents, against CosScale (band.png), and\n"+
			"against w for each model (band_w.png). The reference is windowed attention with\n"+
			"window -w, run on the first checkpoint (mass 1 by definition at that w). Writes\n"+
			"band.png, band_w.png and band.csv.", stderr)
	m := modelFlags(fs, "comma-separated checkpoint `dirs`; required", true)
	L := fs.Int("L", 1024, "sequence length (documents tiled or cut to it)")
	w := fs.Int("w", 64, "half-width of the band, below -L (the windowed reference keeps |i-j| <= w; 0: the diagonal only)")
	ws := fs.String("ws", "", "comma-separated half-widths below -L for band_w.png (default 0, 1, 2, 4, ..., L/2 and -w; 0: the diagonal only)")
	norm := fs.String("norm", "", "normalisation to run the models with: "+strings.Join(attn.NormNames(), ", ")+" (default: each model's own)")
	var widths []int
	ms, be, err := m.prepare(c, fs, args, func() error {
		if *L < 2 {
			return fmt.Errorf("-L %d must be at least 2", *L)
		}
		var err error
		if *ws != "" {
			if widths, err = cli.Ints("-ws", *ws, 0); err != nil {
				return err
			}
		}
		if widths, err = analysis.HalfWidths(*L, *w, widths); err != nil {
			return err
		}
		if *norm != "" {
			if _, err := attn.ParseNorm(*norm); err != nil {
				return fmt.Errorf("-norm: %w", err)
			}
		}
		return nil
	}, func(ms []analysis.Model) (string, float64, error) {
		return fmt.Sprintf("-L %d", *L), maxBytes(ms, func(cfg gau.Config) float64 { return analysis.BandBytes(cfg, *L, len(widths)) }), nil
	})
	if err != nil {
		return err
	}
	defer be.Close()
	analysis.ByCosScale(ms)
	rows, err := analysis.BandModels(be, ms, m.documents(*L), *norm, *L, *w, widths, c.progress(stderr))
	if err != nil {
		return err
	}
	return c.save(stdout, analysis.BandTable(rows, ms, *w),
		func() error { return study.Band.Write(c.path("band.csv"), rows) },
		func() error { return figures.Band(c.path("band.png"), c.path("band_w.png"), rows, ms, *w, *L, c.dpi) })
}

// maxBytes is the largest estimate of the models' (run one at a time).
func maxBytes(ms []analysis.Model, bytes func(gau.Config) float64) float64 {
	need := 0.0
	for _, md := range ms {
		need = max(need, bytes(md.Config))
	}
	return need
}
