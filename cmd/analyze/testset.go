package main

import (
	"flag"
	"fmt"
	"image/color"
	"io"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/testset"
	"github.com/infoscale/gaualpha/tokenizer"
)

func runTestset(args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("testset", "[flags]",
		"The paper's test-set selection (figure 1): spectral clustering of the documents'\n"+
			"TF-IDF character-frequency vectors (k-nearest-neighbour cosine graph, normalised\n"+
			"Laplacian, k-means) and a stratified random sample proportional to the cluster\n"+
			"sizes, preferring documents of at least -min-len tokens (package testset). Plots\n"+
			"the documents on the first two principal components of their features, coloured\n"+
			"by cluster, the selected ones ringed. Writes testset.png and testset.csv and\n"+
			"prints the selected document ids.", stderr)
	corpusPath := fs.String("corpus", "embedded", "`path` of the corpus (see cmd/train -h for the formats)")
	ckpt := fs.String("ckpt", "", "checkpoint `dir` whose vocab.txt tokenises the documents (default: a vocabulary of every character of the documents)")
	split := fs.String("split", "val", "documents to cluster: val (the validation split, the last 20%, where the evaluation's test set comes from) or all")
	n := fs.Int("n", 10, "number of documents to select (the default shrinks to the documents there are)")
	clusters := fs.Int("clusters", testset.DefaultClusters, "number of spectral clusters")
	minLen := fs.Int("min-len", 4096, "preferred minimum length in tokens (the longest evaluation length): each cluster's draw takes documents at least this long first, shorter ones when it runs out (0: no preference)")
	features := fs.Int("features", testset.DefaultFeatures, "number of most frequent characters used as features (all the documents' characters when they have fewer)")
	neighbors := fs.Int("neighbors", testset.DefaultNeighbors, "k of the k-nearest-neighbour similarity graph, below the number of documents")
	seed := fs.Uint64("seed", 42, "seed of k-means and of the sampling")
	maxMemory := maxMemoryFlag(fs)
	if err := c.parse(fs, args); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"n", *n}, {"clusters", *clusters}, {"features", *features}, {"neighbors", *neighbors}} {
		if f.v < 1 {
			return fmt.Errorf("-%s %d must be at least 1", f.name, f.v)
		}
	}
	if *minLen < 0 {
		return fmt.Errorf("-min-len %d must be at least 0 (0: no preference)", *minLen)
	}
	if *split != "val" && *split != "all" {
		return fmt.Errorf("-split %q: want val or all", *split)
	}
	mem, err := newBudget(*maxMemory)
	if err != nil {
		return err
	}
	all, err := corpus.Open(*corpusPath)
	if err != nil {
		return err
	}
	docs := all
	if *split == "val" {
		if _, val := corpus.Split(all, 0.8); len(val) > 0 {
			docs = val
		}
	}
	// A value given on the command line that the documents cannot meet is
	// refused; a default shrinks to what they allow (a small corpus).
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, f := range []struct {
		name string
		v    *int
		max  int
	}{{"n", n, len(docs)}, {"clusters", clusters, len(docs)}, {"neighbors", neighbors, len(docs) - 1}} {
		if *f.v <= f.max {
			continue
		}
		if set[f.name] || f.max < 1 {
			return fmt.Errorf("-%s %d: at most %d for the %s (%s split)", f.name, *f.v, f.max, plural(len(docs), "document"), *split)
		}
		*f.v = f.max
	}
	var v *tokenizer.Vocab
	if *ckpt != "" {
		ck, err := checkpoint.Load(*ckpt)
		if err != nil {
			return err
		}
		v = ck.Vocab
	} else {
		v, err = tokenizer.Build(func(yield func(string) bool) {
			for _, d := range docs {
				if !yield(d.Text) {
					return
				}
			}
		}, 1, 0)
		if err != nil {
			return err
		}
	}
	if err := mem.check(fmt.Sprintf("-split %s (%s)", *split, plural(len(docs), "document")), testsetBytes(len(docs), min(*features, v.Size()))); err != nil {
		return err
	}
	sel, info, err := testset.Select(docs, v, testset.Options{N: *n, Clusters: *clusters, MinLen: *minLen, Seed: *seed,
		Features: *features, Neighbors: *neighbors})
	if err != nil {
		return err
	}
	out := &outputs{dir: c.out}
	if err := writeCSV(out.path("testset.csv"), []string{"index", "id", "tokens", "cluster", "pc1", "pc2", "selected"}, testsetCSV(docs, info)); err != nil {
		return err
	}
	p, err := testsetPlot(info, *split)
	if err != nil {
		return err
	}
	if err := newFigure(8, 4.5, c.dpi).savePlotSideLegend(out.path("testset.png"), p); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d documents (%s split), %d clusters of sizes %v; drawn per cluster %v\nselected:", len(docs), *split, len(info.Sizes), info.Sizes, info.Quotas)
	for i, d := range sel {
		fmt.Fprintf(stdout, " %s (%d tokens, cluster %d)", d.ID, info.Tokens[info.Selected[i]], info.Labels[info.Selected[i]])
		if i < len(sel)-1 {
			fmt.Fprint(stdout, ",")
		}
	}
	fmt.Fprintln(stdout)
	out.print(stdout)
	return nil
}

func testsetCSV(docs []corpus.Document, info testset.Info) [][]string {
	selected := make(map[int]bool)
	for _, i := range info.Selected {
		selected[i] = true
	}
	var rows [][]string
	for i, d := range docs {
		rows = append(rows, []string{strconv.Itoa(i), d.ID, strconv.Itoa(info.Tokens[i]), strconv.Itoa(info.Labels[i]),
			ff(info.PCA[i][0]), ff(info.PCA[i][1]), strconv.FormatBool(selected[i])})
	}
	return rows
}

// testsetPlot scatters the documents on their first two principal
// components, one colour per cluster, the selected ones ringed.
func testsetPlot(info testset.Info, split string) (*plot.Plot, error) {
	p := newPlot(fmt.Sprintf("Spectral clusters and the stratified test set (%s split)", split),
		fmt.Sprintf("PC1 (%.0f%% of variance)", 100*info.Explained[0]), fmt.Sprintf("PC2 (%.0f%% of variance)", 100*info.Explained[1]))
	p.Legend.TextStyle.Font.Size = vg.Points(7)
	for cl, size := range info.Sizes {
		var xys plotter.XYs
		for i, l := range info.Labels {
			if l == cl {
				xys = append(xys, plotter.XY{X: info.PCA[i][0], Y: info.PCA[i][1]})
			}
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, err
		}
		sc.Color = colorAt(cl)
		sc.Shape = draw.CircleGlyph{}
		sc.Radius = vg.Points(2)
		p.Add(sc)
		p.Legend.Add(fmt.Sprintf("cluster %d (%d documents, %d drawn)", cl, size, info.Quotas[cl]), sc)
	}
	var xys plotter.XYs
	for _, i := range info.Selected {
		xys = append(xys, plotter.XY{X: info.PCA[i][0], Y: info.PCA[i][1]})
	}
	if len(xys) > 0 {
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, err
		}
		sc.Color = color.Black
		sc.Shape = draw.RingGlyph{}
		sc.Radius = vg.Points(5)
		p.Add(sc)
		p.Legend.Add(strings.TrimSpace(fmt.Sprintf("selected (%d)", len(xys))), sc)
	}
	return p, nil
}
