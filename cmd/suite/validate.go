package main

import (
	"fmt"
	"strings"

	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/internal/cli"
)

// validate checks the flags on their own, before any checkpoint or corpus
// is read: ranges, lists, names, and flags the protocol makes meaningless.
func (o options) validate(set map[string]bool) error {
	if err := cli.FirstError(
		cli.AtLeast("-docs", o.docs, 1, ""),
		cli.AtLeast("-offsets", o.offsets, 1, ""),
		cli.AtLeast("-finetune-steps", o.steps, 1, ""),
		cli.AtLeast("-batch", o.batch, 1, ""),
		cli.Finite("-finetune-lr", o.lr, "learning rate", true, ""),
	); err != nil {
		return err
	}
	switch {
	case o.out == "":
		return fmt.Errorf("-out must name a directory")
	case o.testset != eval.TestSetLong && o.testset != eval.TestSetSpectral:
		return fmt.Errorf("-testset %q: want %s or %s", o.testset, eval.TestSetLong, eval.TestSetSpectral)
	case o.protocol == string(eval.Fast) && set["positions"]:
		return fmt.Errorf("-positions has no effect with -protocol fast (it shapes the paper protocol)")
	case o.protocol == string(eval.Paper) && set["offsets"]:
		return fmt.Errorf("-offsets has no effect with -protocol paper (it shapes the fast protocol)")
	case o.docset != eval.SetTest && o.docset != eval.SetDev:
		return fmt.Errorf("-docset %q: want %s or %s", o.docset, eval.SetTest, eval.SetDev)
	}
	if err := cli.FirstError(
		cli.Finite("-alibi-slope", o.alibiSlope, "slope", false, "0: the default"),
		cli.AtLeast("-passkey-every", o.passkeyEvery, 0, "one sequence in n; 0: none"),
	); err != nil {
		return err
	}
	switch {
	case o.passkeyNear < 0 || o.passkeyFar < 0:
		return fmt.Errorf("-passkey-near %d and -passkey-far %d must be >= 0", o.passkeyNear, o.passkeyFar)
	case o.passkeyLengths != "" && o.passkeyNear+o.passkeyFar == 0:
		return fmt.Errorf("-passkey-lengths needs keys to ask: -passkey-near or -passkey-far above 0")
	case o.passkeyLengths == "" && o.passkeyNear+o.passkeyFar > 0:
		return fmt.Errorf("-passkey-near and -passkey-far need -passkey-lengths")
	case o.finetuneOnly && (o.passkeyLengths != "" || set["docset"] || set["lengths"]):
		return fmt.Errorf("-finetune-only evaluates nothing: -passkey-lengths, -docset and -lengths have no effect with it")
	}
	if o.passkeyLengths != "" {
		if _, err := eval.ParseLengths(o.passkeyLengths); err != nil {
			return fmt.Errorf("-passkey-lengths: %w", err)
		}
	}
	for _, b := range strings.Split(o.bases, ",") {
		if strings.TrimSpace(b) == "" {
			return fmt.Errorf("-base %q has an empty entry", o.bases)
		}
	}
	if o.lengths != "" {
		if _, err := eval.ParseLengths(o.lengths); err != nil {
			return fmt.Errorf("-lengths: %w", err)
		}
	}
	return nil
}
