package graph

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"gorgonia.org/tensor"
)

// OpProfile accumulates the wall time a Machine spends in each step of its
// plan, for finding where a run's time goes (cmd/bench -ops). Set
// Machine.Profile to one; every Run then adds to it.
type OpProfile struct {
	// Runs counts the profiled runs.
	Runs int
	// Time is the total wall time of each plan step (Plan.Steps order)
	// over the profiled runs.
	Time []time.Duration
	// Total is the total wall time of the profiled runs.
	Total time.Duration
	// Names are the machine's names of the steps: the op, a fused
	// kernel's name at the step that runs it, "" for a step a fused kernel
	// computes (not run on its own).
	Names []string
}

// OpTime is the time of one kind of op in a profile.
type OpTime struct {
	// Op is the op with its parameters, and the output shape.
	Op    string
	Shape tensor.Shape
	// Count is the number of steps of this kind per run; Time their
	// total wall time per run.
	Count int
	Time  time.Duration
}

// ByOp sums the profile over the steps of one op and output shape, per
// run, slowest first. Gorgonia's gradient sums are "Add (gradient sum)".
func (p *OpProfile) ByOp(plan *Plan) []OpTime {
	if p.Runs == 0 {
		return nil
	}
	idx := map[string]int{}
	var out []OpTime
	for i, s := range plan.Steps {
		name := s.Node.Op().String()
		if s.GradSum {
			name = "Add (gradient sum)"
		}
		if i < len(p.Names) {
			if p.Names[i] == "" {
				continue
			}
			name = p.Names[i]
		}
		shape := s.Node.Shape()
		key := fmt.Sprint(name, " ", shape)
		j, ok := idx[key]
		if !ok {
			j = len(out)
			idx[key] = j
			out = append(out, OpTime{Op: name, Shape: shape})
		}
		out[j].Count++
		if i < len(p.Time) {
			out[j].Time += p.Time[i]
		}
	}
	for i := range out {
		out[i].Time /= time.Duration(p.Runs)
	}
	slices.SortStableFunc(out, func(a, b OpTime) int { return cmp.Compare(b.Time, a.Time) })
	return out
}

// Write prints the profile by op as a table: time per run, share of the
// run, count and output shape.
func (p *OpProfile) Write(w io.Writer, plan *Plan) error {
	if p.Runs == 0 {
		_, err := fmt.Fprintln(w, "no profiled runs")
		return err
	}
	per := p.Total / time.Duration(p.Runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "ms/run\tshare\tcount\t op\t shape\t\n")
	var sum time.Duration
	for _, o := range p.ByOp(plan) {
		sum += o.Time
		op := o.Op
		if i := strings.IndexByte(op, '{'); i > 0 && len(op) > 60 {
			op = op[:i] // the policy's fields: long, and the same for every layer
		}
		fmt.Fprintf(tw, "%.3f\t%.1f%%\t%d\t %s\t %v\t\n", o.Time.Seconds()*1e3, 100*o.Time.Seconds()/per.Seconds(), o.Count, op, o.Shape)
	}
	fmt.Fprintf(tw, "%.3f\t%.1f%%\t\t the executor between ops\t\t\n", (per-sum).Seconds()*1e3, 100*(per-sum).Seconds()/per.Seconds())
	fmt.Fprintf(tw, "%.3f\t100%%\t\t a run\t\t\n", per.Seconds()*1e3)
	return tw.Flush()
}
