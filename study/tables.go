package study

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/testset"
	"github.com/infoscale/gaualpha/train"
)

// Layer is a layer index in a table, or AllLayers for a statistic pooled
// over every layer (written "all").
type Layer int

// AllLayers marks a row pooled over every layer.
const AllLayers Layer = -1

// MarshalText writes "all" or the index.
func (l Layer) MarshalText() ([]byte, error) {
	if l == AllLayers {
		return []byte("all"), nil
	}
	if l < 0 {
		return nil, fmt.Errorf("bad layer %d", int(l))
	}
	return strconv.AppendInt(nil, int64(l), 10), nil
}

// UnmarshalText reads "all" or an index >= 0.
func (l *Layer) UnmarshalText(b []byte) error {
	if string(b) == "all" {
		*l = AllLayers
		return nil
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 {
		return fmt.Errorf("bad layer %q (want an index >= 0 or all)", b)
	}
	*l = Layer(n)
	return nil
}

// EntropyRow is one row of entropy.csv: the attention entropy of one
// normalisation, layer and length, mean and standard deviation over every
// query row of every test document.
type EntropyRow struct {
	Norm   string  `csv:"norm"`
	Layer  Layer   `csv:"layer"`
	Length int     `csv:"length"`
	Mean   float64 `csv:"mean_entropy"`
	Std    float64 `csv:"std"`
	Rows   int     `csv:"rows"`
	LnN    float64 `csv:"ln_n"`
}

// Entropy is entropy.csv.
var Entropy = Table[EntropyRow]{Name: "entropy.csv", Version: 1}

// PooledEntropy returns the mean entropy pooled over layers per
// normalisation and length, and the lengths in increasing order.
func PooledEntropy(rows []EntropyRow) (map[string]map[int]float64, []int) {
	ent := map[string]map[int]float64{}
	var lengths []int
	seen := map[int]bool{}
	for _, row := range rows {
		if row.Layer != AllLayers {
			continue
		}
		if ent[row.Norm] == nil {
			ent[row.Norm] = map[int]float64{}
		}
		ent[row.Norm][row.Length] = row.Mean
		if !seen[row.Length] {
			seen[row.Length] = true
			lengths = append(lengths, row.Length)
		}
	}
	sort.Ints(lengths)
	return ent, lengths
}

// EntropyDocRow is one row of entropy_docs.csv: the mean entropy of the
// query rows of all layers of one test document.
type EntropyDocRow struct {
	Norm   string  `csv:"norm"`
	Length int     `csv:"length"`
	Doc    int     `csv:"doc"`
	Mean   float64 `csv:"mean_entropy"`
	Rows   int     `csv:"rows"`
}

// EntropyDocs is entropy_docs.csv.
var EntropyDocs = Table[EntropyDocRow]{Name: "entropy_docs.csv", Version: 1}

// EtaHistRow is one bin of eta_hist.csv: the densities of the cosines of
// the query/key pairs of one model and layer, before and after RoPE, all
// pairs and weighted by attention (NaN where not computable).
type EtaHistRow struct {
	Model    string  `csv:"model"`
	CosScale float64 `csv:"cosscale"`
	Layer    Layer   `csv:"layer"`
	BinLo    float64 `csv:"bin_lo"`
	BinHi    float64 `csv:"bin_hi"`
	Pre      float64 `csv:"density_pre"`
	Post     float64 `csv:"density_post"`
	PreAttn  float64 `csv:"density_pre_attn"`
	PostAttn float64 `csv:"density_post_attn"`
}

// EtaHist is eta_hist.csv.
var EtaHist = Table[EtaHistRow]{Name: "eta_hist.csv", Version: 1}

// EtaPeakRow is one row of eta_peak.csv: the peak η1* of one model's and
// layer's cosine histograms, the concentration κ and the vMF prediction.
type EtaPeakRow struct {
	Model    string  `csv:"model"`
	CosScale float64 `csv:"cosscale"`
	Layer    Layer   `csv:"layer"`
	Pre      float64 `csv:"eta1_pre"`
	Post     float64 `csv:"eta1_post"`
	PreAttn  float64 `csv:"eta1_pre_attn"`
	PostAttn float64 `csv:"eta1_post_attn"`
	Kappa    float64 `csv:"kappa"`
	Theory   float64 `csv:"eta_theory"`
	Pairs    int     `csv:"pairs"`
	Skipped  int     `csv:"skipped"`
}

// EtaPeak is eta_peak.csv.
var EtaPeak = Table[EtaPeakRow]{Name: "eta_peak.csv", Version: 1}

// BandRow is one row of band.csv: the attention mass within ±W of the
// diagonal of one model (or of the windowed-attention reference, whose
// CosScale is NaN) and layer, averaged over the query rows.
type BandRow struct {
	Model    string  `csv:"model"`
	CosScale float64 `csv:"cosscale"`
	Window   bool    `csv:"windowed_reference"`
	Layer    Layer   `csv:"layer"`
	W        int     `csv:"w"`
	Mass     float64 `csv:"mass"`
	Std      float64 `csv:"std"`
	Rows     int     `csv:"rows"`
}

// Band is band.csv.
var Band = Table[BandRow]{Name: "band.csv", Version: 1}

// HeatmapRow is one row of heatmap.csv: summary statistics of one model's
// q·k matrix before or after RoPE (Rope "before" or "after").
type HeatmapRow struct {
	Model    string  `csv:"model"`
	CosScale float64 `csv:"cosscale"`
	Layer    int     `csv:"layer"`
	Length   int     `csv:"length"`
	Rope     string  `csv:"rope"`
	Min      float64 `csv:"min"`
	Max      float64 `csv:"max"`
	Mean     float64 `csv:"mean"`
	Std      float64 `csv:"std"`
	Diag     float64 `csv:"diag_mean"`
	Near     float64 `csv:"near_mean"`
	Far      float64 `csv:"far_mean"`
	NormLo   float64 `csv:"norm_lo"`
	NormHi   float64 `csv:"norm_hi"`
}

// Heatmap is heatmap.csv.
var Heatmap = Table[HeatmapRow]{Name: "heatmap.csv", Version: 1}

// CurvesRow is one row of curves.csv: one suite configuration at one
// length.
type CurvesRow struct {
	Base      string  `csv:"base"`
	CosScale  float64 `csv:"cosscale"`
	Method    string  `csv:"method"`
	FineTuned bool    `csv:"fine_tuned"`
	Norm      string  `csv:"norm"`
	Length    int     `csv:"length"`
	Accuracy  float64 `csv:"accuracy"`
	Loss      float64 `csv:"loss"`
}

// Curves is curves.csv.
var Curves = Table[CurvesRow]{Name: "curves.csv", Version: 1}

// TestsetRow is one document of testset.csv: its spectral cluster, its
// first two principal components and whether the selection took it.
type TestsetRow struct {
	Index    int     `csv:"index"`
	ID       string  `csv:"id"`
	Tokens   int     `csv:"tokens"`
	Cluster  int     `csv:"cluster"`
	PC1      float64 `csv:"pc1"`
	PC2      float64 `csv:"pc2"`
	Selected bool    `csv:"selected"`
}

// Testset is testset.csv.
var Testset = Table[TestsetRow]{Name: "testset.csv", Version: 1}

// TrainLossRow is one row of a training-loss table (fig2_trainloss.csv,
// fig3_finetune.csv): one logged step of one run, with its training loss or
// its validation loss.
type TrainLossRow struct {
	Panel     string   `csv:"panel"`
	Run       string   `csv:"run"`
	Dir       string   `csv:"dir"`
	Step      int      `csv:"step"`
	Epoch     float64  `csv:"epoch"`
	TrainLoss *float64 `csv:"train_loss"`
	ValLoss   *float64 `csv:"val_loss"`
}

// TrainLoss is a training-loss table; its file name is chosen per figure.
var TrainLoss = Table[TrainLossRow]{Name: "trainloss.csv", Version: 1}

// TrainLossRows returns the rows of one run of a training-loss table: its
// metrics log's training lines, then its validation lines.
func TrainLossRows(panel, run, dir string, trainLines []train.StepMetrics, valLines []train.ValMetrics) []TrainLossRow {
	var rows []TrainLossRow
	for _, p := range trainLines {
		rows = append(rows, TrainLossRow{Panel: panel, Run: run, Dir: dir, Step: p.Step, Epoch: p.Epoch, TrainLoss: &p.Loss})
	}
	for _, p := range valLines {
		rows = append(rows, TrainLossRow{Panel: panel, Run: run, Dir: dir, Step: p.Step, Epoch: p.Epoch, ValLoss: &p.ValLoss})
	}
	return rows
}

// SuiteCSVRow is one row of suite.csv: one suite configuration at one
// length.
type SuiteCSVRow struct {
	Base       string  `csv:"base"`
	CosScale   float64 `csv:"cosscale,g"`
	Method     string  `csv:"method"`
	FineTuned  bool    `csv:"fine_tuned"`
	Norm       string  `csv:"norm"`
	Length     int     `csv:"length"`
	Accuracy   float64 `csv:"accuracy,f6"`
	Loss       float64 `csv:"loss,f6"`
	Perplexity float64 `csv:"perplexity,f6"`
	Tokens     int     `csv:"tokens"`
}

// SuiteCSV is suite.csv.
var SuiteCSV = Table[SuiteCSVRow]{Name: "suite.csv", Version: 1}

// TestsetRows returns the rows of testset.csv: every clustered document
// with its cluster, principal components and whether it was selected.
func TestsetRows(docs []corpus.Document, info testset.Info) []TestsetRow {
	selected := make(map[int]bool)
	for _, i := range info.Selected {
		selected[i] = true
	}
	var rows []TestsetRow
	for i, d := range docs {
		rows = append(rows, TestsetRow{Index: i, ID: d.ID, Tokens: info.Tokens[i], Cluster: info.Labels[i],
			PC1: info.PCA[i][0], PC2: info.PCA[i][1], Selected: selected[i]})
	}
	return rows
}

// PasskeyRow is one row of passkey.csv: the passkey probe's score of one
// configuration of the suite at one length, on the keys of one distance
// class (eval.Near, eval.Far) in one document.
type PasskeyRow struct {
	CosScale    float64 `csv:"cosscale,g"`
	Method      string  `csv:"method"`
	FineTuned   bool    `csv:"fine_tuned"`
	Norm        string  `csv:"norm"`
	Length      int     `csv:"length"`
	Class       string  `csv:"class"`
	Doc         int     `csv:"doc"`
	Keys        int     `csv:"keys"`
	KeysRight   int     `csv:"keys_right"`
	Digits      int     `csv:"digits"`
	DigitsRight int     `csv:"digits_right"`
}

// Key is the row's configuration.
func (r PasskeyRow) Key() ConfigKey {
	return ConfigKey{CosScale: r.CosScale, Method: r.Method, FineTune: r.FineTuned, Norm: r.Norm}
}

// Passkey is passkey.csv.
var Passkey = Table[PasskeyRow]{Name: "passkey.csv", Version: 1}

// PowerRow is one row of power.csv: the power analysis of one comparison
// at one number of test documents.
type PowerRow struct {
	Comparator string  `csv:"comparator"`
	Config     string  `csv:"config"`
	Mean       float64 `csv:"mean_diff"`
	SD         float64 `csv:"sd"`
	Close      bool    `csv:"close"`
	Docs       int     `csv:"docs"`
	Detectable float64 `csv:"detectable"`
}

// Power is power.csv.
var Power = Table[PowerRow]{Name: "power.csv", Version: 1}

// PasskeyCurveRow is one row of passkey_curve.csv: a configuration's
// passkey digit accuracy at one length and distance class, pooled over
// seeds and documents (the numbers behind passkey.png).
type PasskeyCurveRow struct {
	Config      string  `csv:"config"`
	Length      int     `csv:"length"`
	Class       string  `csv:"class"`
	Digits      int     `csv:"digits"`
	DigitsRight int     `csv:"digits_right"`
	Accuracy    float64 `csv:"digit_accuracy,f6"`
}

// PasskeyCurve is passkey_curve.csv.
var PasskeyCurve = Table[PasskeyCurveRow]{Name: "passkey_curve.csv", Version: 1}
