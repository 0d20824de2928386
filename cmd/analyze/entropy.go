package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/infoscale/gaualpha/attn"
)

// entropyStat is the attention entropy of one normalisation, layer and
// length: mean and standard deviation over every query row of every test
// document. Layer -1 pools all layers.
type entropyStat struct {
	Norm   string
	Layer  int
	Length int
	Mean   float64
	Std    float64
	Rows   int
}

func runEntropy(args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("entropy", "-ckpt DIR [flags]",
		"Mean attention entropy per query row, -Σ_j p_ij ln p_ij in nats, against the sequence\n"+
			"length n for each normalisation, per layer and over all layers, with ln n (the\n"+
			"entropy of uniform attention) for reference. Each test document is tiled or cut to n\n"+
			"tokens; no token is masked and no row is excluded. Writes entropy.png,\n"+
			"entropy_layers.png and entropy.csv.", stderr)
	ckpt := fs.String("ckpt", "", "checkpoint `dir`; required")
	corpusPath := fs.String("corpus", "embedded", "`path` of the corpus the test documents come from (its validation split)")
	lengths := fs.String("lengths", "", "comma-separated sequence lengths (default n0, 2n0, ..., 64n0: 64,128,...,4096 for n0 = 64)")
	norms := fs.String("norm", "softmax,softmax_plus,softmax_plus_n0,infoscale", "comma-separated normalisations: softmax, softmax_plus (the model's base, 512 by default), softmax_plus_n0 (base n0), infoscale")
	docs := fs.Int("docs", 10, "number of test documents")
	maxMemory := maxMemoryFlag(fs)
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if err := checkDocs(*docs); err != nil {
		return err
	}
	mem, err := newBudget(*maxMemory)
	if err != nil {
		return err
	}
	cks, err := loadCheckpoints(*ckpt)
	if err != nil {
		return err
	}
	if len(cks) != 1 {
		return fmt.Errorf("-ckpt: entropy analyses one checkpoint, got %d", len(cks))
	}
	ck := cks[0]
	ls := defaultLengths(ck.Config.TrainLength)
	if *lengths != "" {
		if ls, err = parseInts(*lengths, "lengths", 2); err != nil {
			return err
		}
	}
	slices.Sort(ls)
	ls = slices.Compact(ls)
	var ns []string
	for _, n := range strings.Split(*norms, ",") {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" && !slices.Contains(ns, n) {
			if _, err := normPolicy(ck, n); err != nil {
				return fmt.Errorf("-norm: %w", err)
			}
			ns = append(ns, n)
		}
	}
	if len(ns) == 0 {
		return fmt.Errorf("-norm: no normalisation given")
	}
	what := fmt.Sprintf("-lengths: length %d", slices.Max(ls))
	if *lengths == "" {
		what = fmt.Sprintf("the default lengths up to 64·n0 = %d (-lengths sets others)", slices.Max(ls))
	}
	if err := mem.check(what, entropyBytes(ck.Config, slices.Max(ls))); err != nil {
		return err
	}
	toks, ids, err := testDocuments(*corpusPath, ck, *docs, slices.Max(ls))
	if err != nil {
		return err
	}
	progress := c.progress(stderr)
	fmt.Fprintf(progress, "test documents: %s\n", strings.Join(ids, ", "))
	stats, perDoc, err := entropyStudyDocs(ck, toks, ns, ls, progress)
	if err != nil {
		return err
	}
	out := &outputs{dir: c.out}
	if err := writeCSV(out.path("entropy.csv"), []string{"norm", "layer", "length", "mean_entropy", "std", "rows", "ln_n"}, entropyCSV(stats)); err != nil {
		return err
	}
	if err := writeCSV(out.path("entropy_docs.csv"), []string{"norm", "length", "doc", "mean_entropy", "rows"}, perDoc); err != nil {
		return err
	}
	fig := newFigure(6, 4, c.dpi)
	p, err := entropyPlot(stats, ns, ls, -1, fmt.Sprintf("Attention entropy, mean over rows and layers (%s)", ck.name()), true)
	if err != nil {
		return err
	}
	if err := fig.savePlot(out.path("entropy.png"), p); err != nil {
		return err
	}
	nl := ck.Config.NumLayers
	rows, cols := gridShape(nl, 3)
	grid := make([][]*plot.Plot, rows)
	for l := 0; l < nl; l++ {
		p, err := entropyPlot(stats, ns, ls, l, fmt.Sprintf("layer %d", l), l == 0)
		if err != nil {
			return err
		}
		grid[l/cols] = append(grid[l/cols], p)
	}
	if err := newFigure(3.3*float64(cols), 2.8*float64(rows), c.dpi).saveGrid(out.path("entropy_layers.png"), grid); err != nil {
		return err
	}
	fmt.Fprint(stdout, entropyTable(stats, ns, ls))
	out.print(stdout)
	return nil
}

// defaultLengths is n0, 2n0, ..., 64n0.
func defaultLengths(n0 int) []int {
	var ls []int
	for f := 1; f <= 64; f *= 2 {
		ls = append(ls, f*n0)
	}
	return ls
}

// normPolicy returns the checkpoint's attention policy under the
// normalisation name: an attn.Norm name, or softmax_plus_n0 (softmax_plus
// with base n0, the model's training length: factor ln(n)/ln(n0)).
func normPolicy(ck loadedModel, norm string) (attn.Policy, error) {
	if norm == "softmax_plus_n0" {
		pol, err := ck.Config.Policy("softmax_plus")
		pol.Base = float64(ck.Config.TrainLength)
		if err == nil {
			err = pol.Validate()
		}
		return pol, err
	}
	if _, err := attn.ParseNorm(norm); err != nil {
		return attn.Policy{}, err
	}
	return ck.Config.Policy(norm)
}

// entropyStudy runs the model under each normalisation at each length on
// every document and returns the entropy statistics per layer and pooled.
func entropyStudy(ck loadedModel, docs [][]int, norms []string, lengths []int, progress io.Writer) ([]entropyStat, error) {
	stats, _, err := entropyStudyDocs(ck, docs, norms, lengths, progress)
	return stats, err
}

// entropyStudyDocs is entropyStudy that also returns, per normalisation,
// length and document, the mean entropy of the rows of all layers of that
// document (the rows of entropy_docs.csv: norm, length, doc, mean, rows).
func entropyStudyDocs(ck loadedModel, docs [][]int, norms []string, lengths []int, progress io.Writer) ([]entropyStat, [][]string, error) {
	var stats []entropyStat
	var perDoc [][]string
	nl := ck.Config.NumLayers
	for _, norm := range norms {
		pol, err := normPolicy(ck, norm)
		if err != nil {
			return nil, nil, err
		}
		for _, L := range lengths {
			fmt.Fprintf(progress, "entropy: %s, length %d\n", norm, L)
			f, err := newForward(ck, pol, L)
			if err != nil {
				return nil, nil, err
			}
			acc := make([]moments, nl+1) // layers, then all
			for d, doc := range docs {
				if err := f.run(doc); err != nil {
					return nil, nil, err
				}
				var one moments
				for l := 0; l < nl; l++ {
					h, err := layerEntropy(f, l)
					if err != nil {
						return nil, nil, err
					}
					acc[l].addAll(h)
					acc[nl].addAll(h)
					one.addAll(h)
				}
				perDoc = append(perDoc, []string{norm, strconv.Itoa(L), strconv.Itoa(d), ff(one.mean), strconv.Itoa(one.n)})
			}
			for l, m := range acc {
				layer := l
				if l == nl {
					layer = -1
				}
				stats = append(stats, entropyStat{Norm: norm, Layer: layer, Length: L, Mean: m.mean, Std: m.std(), Rows: m.n})
			}
		}
	}
	return stats, perDoc, nil
}

// layerEntropy returns the attention entropy of every query row of layer l
// after the last run (NaN for padding rows).
func layerEntropy(f *forward, l int) ([]float64, error) {
	a, out, err := f.attention(l)
	if err != nil {
		return nil, err
	}
	h, _, err := rowStats(a, out, 0)
	if err != nil {
		return nil, fmt.Errorf("layer %d: %w", l, err)
	}
	return h, nil
}

func layerName(l int) string {
	if l < 0 {
		return "all"
	}
	return strconv.Itoa(l)
}

func entropyCSV(stats []entropyStat) [][]string {
	var rows [][]string
	for _, s := range stats {
		rows = append(rows, []string{s.Norm, layerName(s.Layer), strconv.Itoa(s.Length), ff(s.Mean), ff(s.Std),
			strconv.Itoa(s.Rows), ff(math.Log(float64(s.Length)))})
	}
	return rows
}

// entropyPlot draws mean entropy vs length for one layer (-1: all), one
// line per normalisation, and ln n.
func entropyPlot(stats []entropyStat, norms []string, lengths []int, layer int, title string, legend bool) (*plot.Plot, error) {
	p := newPlot(title, "sequence length n", "entropy (nats)")
	p.Legend.Left = true
	log2Axis(&p.X)
	xs := make([]float64, len(lengths))
	lnN := make([]float64, len(lengths))
	for i, L := range lengths {
		xs[i], lnN[i] = float64(L), math.Log(float64(L))
	}
	for k, norm := range norms {
		ys := make([]float64, len(lengths))
		for i, L := range lengths {
			ys[i] = math.NaN()
			for _, s := range stats {
				if s.Norm == norm && s.Layer == layer && s.Length == L {
					ys[i] = s.Mean
				}
			}
		}
		if err := (series{label: norm, x: xs, y: ys, color: colorAt(k), points: true}).add(p); err != nil {
			return nil, err
		}
	}
	ref := series{label: "ln n (uniform)", x: xs, y: lnN, color: colorAt(7), dashes: dashes[1], width: vg.Points(1)}
	if err := ref.add(p); err != nil {
		return nil, err
	}
	widenLogRange(&p.X)
	p.Y.Min = 0
	if !legend {
		p.Legend = plot.NewLegend()
	}
	return p, nil
}

// entropyTable renders the pooled means as a markdown table.
func entropyTable(stats []entropyStat, norms []string, lengths []int) string {
	var sb strings.Builder
	sb.WriteString("Mean attention entropy per row (nats), all layers:\n\n| n | ln n |")
	for _, n := range norms {
		fmt.Fprintf(&sb, " %s |", n)
	}
	sb.WriteString("\n|---:|---:|")
	for range norms {
		sb.WriteString("---:|")
	}
	sb.WriteString("\n")
	for _, L := range lengths {
		fmt.Fprintf(&sb, "| %d | %.3f |", L, math.Log(float64(L)))
		for _, n := range norms {
			for _, s := range stats {
				if s.Norm == n && s.Layer == -1 && s.Length == L {
					fmt.Fprintf(&sb, " %.3f |", s.Mean)
				}
			}
		}
		sb.WriteString("\n")
	}
	sb.WriteString("\n")
	return sb.String()
}
