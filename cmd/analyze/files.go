package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/infoscale/gaualpha/analysis"
	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/figures"
	"github.com/infoscale/gaualpha/internal/cli"
	"github.com/infoscale/gaualpha/report"
	"github.com/infoscale/gaualpha/study"
	"github.com/infoscale/gaualpha/testset"
	"github.com/infoscale/gaualpha/verdict"
)

func runCurves(args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("curves", "-suite FILE [flags]",
		"Accuracy and loss against evaluation length from cmd/suite's suite.json: a grid with\n"+
			"one row per normalisation and one column per base model (CosScale), one line per\n"+
			"method ((ft) = fine-tuned). Writes curves_accuracy.png, curves_loss.png and curves.csv.", stderr)
	path := fs.String("suite", "runs/suite/suite.json", "`file` written by cmd/suite")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	s, err := study.ReadSuite(*path)
	if err != nil {
		return err
	}
	return c.save(stdout, "",
		func() error { return study.Curves.Write(c.path("curves.csv"), s.CurvesRows()) },
		func() error { return figures.Curves(c.path("curves_accuracy.png"), s, "accuracy", c.dpi) },
		func() error { return figures.Curves(c.path("curves_loss.png"), s, "loss", c.dpi) })
}

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
	var o testset.Options
	fs.IntVar(&o.N, "n", 10, "number of documents to select (the default shrinks to the documents there are)")
	fs.IntVar(&o.Clusters, "clusters", testset.DefaultClusters, "number of spectral clusters")
	fs.IntVar(&o.MinLen, "min-len", 4096, "preferred minimum length in tokens (the longest evaluation length): each cluster's draw takes documents at least this long first, shorter ones when it runs out (0: no preference)")
	fs.IntVar(&o.Features, "features", testset.DefaultFeatures, "number of most frequent characters used as features (all the documents' characters when they have fewer)")
	fs.IntVar(&o.Neighbors, "neighbors", testset.DefaultNeighbors, "k of the k-nearest-neighbour similarity graph, below the number of documents")
	fs.Uint64Var(&o.Seed, "seed", 42, "seed of k-means and of the sampling")
	maxMemory := fs.Float64("max-memory", 0, "refuse a run whose estimated memory exceeds this many `GiB` (0: the memory available at the start, MemAvailable in /proc/meminfo)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"n", o.N}, {"clusters", o.Clusters}, {"features", o.Features}, {"neighbors", o.Neighbors}} {
		if f.v < 1 {
			return fmt.Errorf("-%s %d must be at least 1", f.name, f.v)
		}
	}
	if o.MinLen < 0 {
		return fmt.Errorf("-min-len %d must be at least 0 (0: no preference)", o.MinLen)
	}
	if *split != "val" && *split != "all" {
		return fmt.Errorf("-split %q: want val or all", *split)
	}
	mem, err := cli.MemoryBudget("max-memory", *maxMemory)
	if err != nil {
		return err
	}
	docs, err := analysis.TestSetDocuments(*corpusPath, *split)
	if err != nil {
		return err
	}
	// A value given on the command line that the documents cannot meet is
	// refused; a default shrinks to what they allow (a small corpus).
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, f := range []struct {
		name string
		v    *int
		max  int
	}{{"n", &o.N, len(docs)}, {"clusters", &o.Clusters, len(docs)}, {"neighbors", &o.Neighbors, len(docs) - 1}} {
		if *f.v > f.max && (set[f.name] || f.max < 1) {
			return fmt.Errorf("-%s %d: at most %d for the %s (%s split)", f.name, *f.v, f.max, plural(len(docs), "document"), *split)
		}
		*f.v = min(*f.v, f.max)
	}
	v, err := analysis.TestSetVocab(*ckpt, docs)
	if err != nil {
		return err
	}
	need := testset.EstimateBytes(len(docs), min(o.Features, v.Size()))
	if err := mem.Check(fmt.Sprintf("-split %s (%s)", *split, plural(len(docs), "document")), int64(need)); err != nil {
		return err
	}
	sel, info, err := testset.Select(docs, v, o)
	if err != nil {
		return err
	}
	text := analysis.TestSetSummary(docs, *split, sel, info)
	return c.save(stdout, text,
		func() error { return study.Testset.Write(c.path("testset.csv"), study.TestsetRows(docs, info)) },
		func() error { return figures.Testset(c.path("testset.png"), info, *split, c.dpi) })
}

func runTrainLoss(args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("trainloss", "-runs [PANEL:]LABEL=DIR,... [flags]",
		"Training loss against epoch from the metrics.jsonl of training runs (the paper's\n"+
			"figures 2 and 3): one panel per PANEL, one line per LABEL (the same colour in every\n"+
			"panel), validation losses as points. Writes NAME.png and NAME.csv.", stderr)
	runsFlag := fs.String("runs", "", "comma-separated `[PANEL:]LABEL=DIR` (DIR: a run directory or one of its checkpoints)")
	name := fs.String("name", "trainloss", "base `name` of the output files")
	title := fs.String("title", "Training loss", "plot title (one panel) or title prefix")
	smooth := fs.Int("smooth", 5, "moving average over this many logged steps (1: none)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *smooth < 1 {
		return fmt.Errorf("-smooth %d must be at least 1", *smooth)
	}
	if *name == "" || strings.ContainsAny(*name, "/\\") {
		return fmt.Errorf("-name %q must be a plain file name", *name)
	}
	runs, rows, err := figures.ReadLossRuns(*runsFlag)
	if err != nil {
		return fmt.Errorf("-runs: %w", err)
	}
	return c.save(stdout, "",
		func() error { return study.TrainLoss.Write(c.path(*name+".csv"), rows) },
		func() error { return figures.TrainLoss(c.path(*name+".png"), runs, *title, *smooth, c.dpi) })
}

func runPower(args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("power", "-suite FILE [flags]",
		"The power analysis of claim 2's test by documents (docs/analysis.md): from a suite\n"+
			"evaluated with one seed (the committed 2026-12-06 run's by default), the per-document\n"+
			"accuracy difference between ours (RoPE + InfoScale on the headline base) and the best\n"+
			"configuration of every other method at the longest length, its standard deviation\n"+
			"over the documents, and the smallest true difference the sign-flip test detects at\n"+
			"Holm's first step (alpha / comparisons) with the given power, per number of\n"+
			"documents. Writes power.csv.", stderr)
	path := fs.String("suite", "results/suite/suite.json", "`file` written by cmd/suite, with per-position scores")
	headline := fs.Float64("headline", 128, "CosScale of ours' base")
	docsList := fs.String("n", "10,14,20,24,34", "numbers of test documents")
	pow := fs.Float64("power", 0.8, "power of the test")
	closeGap := fs.Float64("close", 0.05, "a comparison is close when |mean difference| is below this (accuracy)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	ns, err := eval.ParseLengths(*docsList)
	if err != nil {
		return fmt.Errorf("-n: %w", err)
	}
	if !(*pow > 0 && *pow < 1) {
		return fmt.Errorf("-power %v must be in (0, 1)", *pow)
	}
	s, err := study.ReadSuite(*path)
	if err != nil {
		return err
	}
	r := verdict.Current()
	p, err := r.PowerAnalysis(s.Rows, study.NewScoreReader(filepath.Dir(*path)).At, *headline, ns, *pow, *closeGap)
	if err != nil {
		return err
	}
	return c.save(stdout, report.Power(p), func() error { return study.Power.Write(c.path("power.csv"), p.Table()) })
}

func runPasskey(args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("passkey", "-in FILE[,FILE] [flags]",
		"The passkey probe's digit accuracy against length, near and far keys, pooled over\n"+
			"the files (cmd/suite's passkey.csv of each seed) and their documents, one line per\n"+
			"configuration. Writes passkey.png and passkey_curve.csv.", stderr)
	in := fs.String("in", "", "comma-separated passkey.csv `files` written by cmd/suite -passkey-lengths; required")
	configs := fs.String("configs", "", "configurations to draw, cosS/METHOD/NORM comma-separated, in order (default: every one in the files)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *in == "" {
		return fmt.Errorf("-in is required: the passkey.csv files of cmd/suite")
	}
	var rows []study.PasskeyRow
	for _, f := range strings.Split(*in, ",") {
		r, err := study.Passkey.Read(strings.TrimSpace(f))
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	var keys []study.ConfigKey
	if *configs != "" {
		for _, f := range strings.Split(*configs, ",") {
			k, err := study.ParseConfigKey(f)
			if err != nil {
				return fmt.Errorf("-configs: %w", err)
			}
			if !slices.ContainsFunc(rows, func(r study.PasskeyRow) bool { return r.Key() == k }) {
				return fmt.Errorf("-configs: %s has no passkey scores in -in", k)
			}
			keys = append(keys, k)
		}
	} else {
		keys = study.PasskeyConfigs(rows)
	}
	curve := study.PasskeyCurveRows(rows, keys)
	return c.save(stdout, "",
		func() error { return study.PasskeyCurve.Write(c.path("passkey_curve.csv"), curve) },
		func() error { return figures.Passkey(c.path("passkey.png"), rows, keys, c.dpi) })
}
