package study

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/eval"
)

// SuiteVersion is the version of suite.json's fields (Suite, SuiteRow and
// the results' eval.Result); version 1 files, written before the
// per-position scores were kept, have rows without "scores", and version 2
// files lack the document set, the documents and the seed.
const SuiteVersion = 3

// Suite is suite.json, the baseline suite's result: one row per base
// model × method × normalisation.
type Suite struct {
	Command  string     `json:"command"`
	Protocol string     `json:"protocol"`
	TrainLen int        `json:"train_length"`
	Seconds  float64    `json:"seconds"`
	Rows     []SuiteRow `json:"rows"`
	// DocSet is the set of held-out documents evaluated (eval.SetTest or
	// eval.SetDev; empty in older files: the test set), Documents their
	// ids in evaluation order, Seed the seed of the fine-tunes.
	DocSet    string   `json:"docset,omitempty"`
	Documents []string `json:"documents,omitempty"`
	Seed      uint64   `json:"seed,omitempty"`
}

// SuiteRow is one method × normalisation of one base model, across the
// suite's lengths.
type SuiteRow struct {
	Base     string        `json:"base"`
	CosScale float64       `json:"cosscale"`
	Method   string        `json:"method"`
	Norm     string        `json:"norm"`
	FineTune bool          `json:"fine_tuned"`
	Results  []eval.Result `json:"results"`
	// Scores is the file of the row's per-position scores (WriteScores),
	// relative to the suite's directory; empty in version 1 files.
	Scores string `json:"scores,omitempty"`
}

// ConfigKey names a configuration of the suite independently of the
// seed: the base model's CosScale, the method (fine-tuned or not) and the
// normalisation.
type ConfigKey struct {
	CosScale float64
	Method   string
	FineTune bool
	Norm     string
}

// Key is the row's configuration.
func (r SuiteRow) Key() ConfigKey {
	return ConfigKey{CosScale: r.CosScale, Method: r.Method, FineTune: r.FineTune, Norm: r.Norm}
}

// MethodLabel is the method, marked " (ft)" when fine-tuned.
func (k ConfigKey) MethodLabel() string {
	if k.FineTune {
		return k.Method + " (ft)"
	}
	return k.Method
}

// Label names the configuration: method, normalisation, CosScale.
func (k ConfigKey) Label() string {
	return fmt.Sprintf("%s + %s, CosScale %g", k.MethodLabel(), k.Norm, k.CosScale)
}

// SuiteMethod is the configuration's method as cmd/suite's -methods
// names it (attn.SuiteMethods: pi-ft for fine-tuned PI, pose and alibi
// fine-tuned, the others training-free).
func (k ConfigKey) SuiteMethod() string {
	for _, m := range attn.SuiteMethods() {
		if m.Method.String() == k.Method && m.FineTuned == k.FineTune {
			return m.Name
		}
	}
	return k.Method
}

// String is the configuration as cmd/suite's -configs takes it:
// cosS/METHOD/NORM with METHOD the suite's name (SuiteMethod).
func (k ConfigKey) String() string {
	return fmt.Sprintf("%s/%s/%s", CosName(k.CosScale), k.SuiteMethod(), k.Norm)
}

// ParseConfigKey parses ConfigKey.String's form.
func ParseConfigKey(s string) (ConfigKey, error) {
	f := strings.Split(strings.TrimSpace(s), "/")
	if len(f) != 3 || !strings.HasPrefix(f[0], "cos") || f[1] == "" || f[2] == "" {
		return ConfigKey{}, fmt.Errorf("configuration %q: want cosS/METHOD/NORM (e.g. cos0/ntk/softmax_plus_n0, cos128/pi-ft/infoscale)", s)
	}
	cos, err := strconv.ParseFloat(strings.TrimPrefix(f[0], "cos"), 64)
	if err != nil || cos < 0 || math.IsInf(cos, 0) || math.IsNaN(cos) {
		return ConfigKey{}, fmt.Errorf("configuration %q: bad CosScale %q", s, f[0])
	}
	for _, m := range attn.SuiteMethods() {
		if m.Name == f[1] {
			return ConfigKey{CosScale: cos, Method: m.Method.String(), FineTune: m.FineTuned, Norm: f[2]}, nil
		}
	}
	return ConfigKey{}, fmt.Errorf("configuration %q: unknown method %q", s, f[1])
}

// MethodLabel is the row's method, marked " (ft)" when fine-tuned.
func (r SuiteRow) MethodLabel() string {
	if r.FineTune {
		return r.Method + " (ft)"
	}
	return r.Method
}

// Label names the row's configuration: method, normalisation, CosScale.
func (r SuiteRow) Label() string {
	return fmt.Sprintf("%s + %s, CosScale %g", r.MethodLabel(), r.Norm, r.CosScale)
}

// Lengths returns the evaluation lengths of the suite (those of every row).
func (s *Suite) Lengths() []int {
	var ls []int
	if len(s.Rows) > 0 {
		for _, r := range s.Rows[0].Results {
			ls = append(ls, r.Length)
		}
	}
	return ls
}

// WriteSuite writes suite.json.
func WriteSuite(path string, s *Suite) error { return writeJSON(path, s) }

// ReadSuite reads a suite.json written by WriteSuite (or by a version 1
// suite). An unknown field, a missing required one, a row without results
// or with other lengths than the first row's is an error naming the file.
func ReadSuite(path string) (*Suite, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := decodeSuite(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func decodeSuite(b []byte) (*Suite, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Suite
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("not a suite.json of version %d: %w", SuiteVersion, err)
	}
	// The required fields, present even when zero.
	var raw struct {
		Rows []map[string]json.RawMessage `json:"rows"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	if len(raw.Rows) == 0 {
		return nil, fmt.Errorf("no rows (is it cmd/suite's suite.json?)")
	}
	for i, r := range raw.Rows {
		if err := requireFields(r, fmt.Sprintf("row %d", i), "base", "cosscale", "method", "norm", "fine_tuned", "results"); err != nil {
			return nil, err
		}
		var results []map[string]json.RawMessage
		if err := json.Unmarshal(r["results"], &results); err != nil {
			return nil, err
		}
		for k, res := range results {
			if err := requireFields(res, fmt.Sprintf("row %d, result %d", i, k), "length", "accuracy", "loss"); err != nil {
				return nil, err
			}
		}
	}
	want := s.Lengths()
	for i, r := range s.Rows {
		if r.Method == "" || r.Norm == "" || len(r.Results) == 0 {
			return nil, fmt.Errorf("row %d lacks a method, a normalisation or results", i)
		}
		var ls []int
		for _, res := range r.Results {
			if res.Length < 1 {
				return nil, fmt.Errorf("row %d has a result at length %d", i, res.Length)
			}
			ls = append(ls, res.Length)
		}
		if !slices.Equal(ls, want) {
			return nil, fmt.Errorf("row %d (%s) has lengths %v, row 0 %v", i, r.Label(), ls, want)
		}
	}
	return &s, nil
}

// requireFields names the first of fields that obj lacks.
func requireFields(obj map[string]json.RawMessage, where string, fields ...string) error {
	for _, f := range fields {
		if _, ok := obj[f]; !ok {
			return fmt.Errorf("%s: missing field %q", where, f)
		}
	}
	return nil
}

// Markdown renders suite.md: two tables, accuracy and loss, one row per
// configuration and one column per length; the best value of each column
// is in bold.
func (s *Suite) Markdown() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Baseline suite: `%s`\n\n%s; total %s.\n", s.Command, s.Protocol,
		time.Duration(s.Seconds*float64(time.Second)).Round(time.Second))
	ls := s.Lengths()
	for _, what := range []string{"accuracy", "loss"} {
		value := func(r SuiteRow, j int) float64 {
			if what == "accuracy" {
				return r.Results[j].Accuracy
			}
			return r.Results[j].Loss
		}
		fmt.Fprintf(&sb, "\n%s (masked-token %s; (ft) = fine-tuned from the base model):\n\n| method | norm | CosScale |", strings.ToUpper(what[:1])+what[1:], what)
		for _, L := range ls {
			fmt.Fprintf(&sb, " %d (%gx) |", L, float64(L)/float64(max(1, s.TrainLen)))
		}
		sb.WriteString("\n|---|---|---:|")
		for range ls {
			sb.WriteString("---:|")
		}
		sb.WriteString("\n")
		best := make([]float64, len(ls))
		for j := range ls {
			for i, r := range s.Rows {
				v := value(r, j)
				if i == 0 || what == "accuracy" && v > best[j] || what == "loss" && v < best[j] {
					best[j] = v
				}
			}
		}
		for _, r := range s.Rows {
			fmt.Fprintf(&sb, "| %s | %s | %g |", r.MethodLabel(), r.Norm, r.CosScale)
			for j := range ls {
				if v := value(r, j); v == best[j] {
					fmt.Fprintf(&sb, " **%.4f** |", v)
				} else {
					fmt.Fprintf(&sb, " %.4f |", v)
				}
			}
			sb.WriteString("\n")
		}
	}
	return sb.String()
}

// CSVRows returns the rows of suite.csv: one per configuration and length.
func (s *Suite) CSVRows() []SuiteCSVRow {
	var out []SuiteCSVRow
	for _, r := range s.Rows {
		for _, res := range r.Results {
			out = append(out, SuiteCSVRow{Base: r.Base, CosScale: r.CosScale, Method: r.Method, FineTuned: r.FineTune, Norm: r.Norm,
				Length: res.Length, Accuracy: res.Accuracy, Loss: res.Loss, Perplexity: res.PPL, Tokens: res.Tally.Count})
		}
	}
	return out
}

// CurvesRows returns the rows of curves.csv: one per configuration and
// length.
func (s *Suite) CurvesRows() []CurvesRow {
	var out []CurvesRow
	for _, r := range s.Rows {
		for _, res := range r.Results {
			out = append(out, CurvesRow{Base: r.Base, CosScale: r.CosScale, Method: r.Method, FineTuned: r.FineTune, Norm: r.Norm,
				Length: res.Length, Accuracy: res.Accuracy, Loss: res.Loss})
		}
	}
	return out
}
