package main

import (
	"fmt"
	"strings"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/internal/cli"
)

// evalFlags are the values of the flags validate checks.
type evalFlags struct {
	protocol, lengths, norms, testset string
	positions, stride, offsets, docs  int
	maxMemory                         float64
}

// validate checks the flags on their own, before the checkpoint and the
// corpus are read: ranges, lists, names, and the flags the protocol makes
// meaningless (which would otherwise be ignored without a word).
func (f evalFlags) validate(set map[string]bool) error {
	proto, err := eval.ParseProtocol(f.protocol)
	if err != nil {
		return fmt.Errorf("-protocol: %w", err)
	}
	if err := cli.FirstError(
		cli.AtLeast("-positions", f.positions, 0, "0: every position"),
		cli.AtLeast("-stride", f.stride, 1, ""),
		cli.AtLeast("-offsets", f.offsets, 1, ""),
		cli.AtLeast("-docs", f.docs, 1, ""),
	); err != nil {
		return err
	}
	switch {
	case proto == eval.Fast && set["positions"]:
		return fmt.Errorf("-positions has no effect with -protocol fast (it shapes the paper protocol)")
	case proto == eval.Paper && (set["stride"] || set["offsets"]):
		return fmt.Errorf("-stride and -offsets have no effect with -protocol paper (they shape the fast protocol)")
	case f.testset != eval.TestSetLong && f.testset != eval.TestSetSpectral:
		return fmt.Errorf("-testset %q: want %s or %s", f.testset, eval.TestSetLong, eval.TestSetSpectral)
	}
	if f.lengths != "" {
		if _, err := eval.ParseLengths(f.lengths); err != nil {
			return fmt.Errorf("-lengths: %w", err)
		}
	}
	for _, n := range strings.Split(f.norms, ",") {
		if _, err := attn.ParseNorm(strings.TrimSpace(n)); err != nil {
			return fmt.Errorf("-norm %q: %w", f.norms, err)
		}
	}
	_, err = cli.MemoryBudget("max-memory", f.maxMemory)
	return err
}

// checkLengths refuses, before the test documents are read, a length whose
// forward pass (eval.EstimateBytes for one sequence) exceeds the budget.
func checkLengths(cfg gau.Config, lengths []int, budget cli.Budget, flag string) error {
	for _, L := range lengths {
		if err := budget.Check(fmt.Sprintf("%s: length %d", flag, L), eval.ForwardBytes(cfg, L)); err != nil {
			return err
		}
	}
	return nil
}
