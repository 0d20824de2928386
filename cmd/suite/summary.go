package main

import (
	"fmt"
	"strings"
	"time"
)

// summary is the suite's result: one row per base × method × normalisation.
type summary struct {
	Command  string  `json:"command"`
	Protocol string  `json:"protocol"`
	TrainLen int     `json:"train_length"`
	Seconds  float64 `json:"seconds"`
	Rows     []row   `json:"rows"`
}

func (s *summary) lengths() []int {
	var ls []int
	if len(s.Rows) > 0 {
		for _, r := range s.Rows[0].Results {
			ls = append(ls, r.Length)
		}
	}
	return ls
}

func (r row) label() string {
	ft := ""
	if r.FineTune {
		ft = " (ft)"
	}
	return fmt.Sprintf("%s%s | %s | %g", r.Method, ft, r.Norm, r.CosScale)
}

// markdown renders two tables, accuracy and loss, with one row per base ×
// method × normalisation and one column per length; the best value of each
// column is in bold.
func (s *summary) markdown() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Baseline suite: `%s`\n\n%s; total %s.\n", s.Command, s.Protocol,
		time.Duration(s.Seconds*float64(time.Second)).Round(time.Second))
	for _, what := range []string{"accuracy", "loss"} {
		fmt.Fprintf(&sb, "\n%s (masked-token %s; (ft) = fine-tuned from the base model):\n\n| method | norm | CosScale |", strings.ToUpper(what[:1])+what[1:], what)
		ls := s.lengths()
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
				v := value(r, j, what)
				if i == 0 || what == "accuracy" && v > best[j] || what == "loss" && v < best[j] {
					best[j] = v
				}
			}
		}
		for _, r := range s.Rows {
			fmt.Fprintf(&sb, "| %s |", r.label())
			for j := range ls {
				v := value(r, j, what)
				if v == best[j] {
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

func value(r row, j int, what string) float64 {
	if what == "accuracy" {
		return r.Results[j].Accuracy
	}
	return r.Results[j].Loss
}

// csv renders one line per row and length.
func (s *summary) csv() string {
	var sb strings.Builder
	sb.WriteString("base,cosscale,method,fine_tuned,norm,length,accuracy,loss,perplexity,tokens\n")
	for _, r := range s.Rows {
		for _, res := range r.Results {
			fmt.Fprintf(&sb, "%s,%g,%s,%v,%s,%d,%.6f,%.6f,%.6f,%d\n", r.Base, r.CosScale, r.Method, r.FineTune, r.Norm,
				res.Length, res.Accuracy, res.Loss, res.PPL, res.Tally.Count)
		}
	}
	return sb.String()
}
