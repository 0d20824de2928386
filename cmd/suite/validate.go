package main

import (
	"fmt"
	"math"
	"strings"

	"github.com/infoscale/gaualpha/eval"
)

// validate checks the flags on their own, before any checkpoint or corpus
// is read: ranges, lists, names, and flags the protocol makes meaningless.
func (o options) validate(set map[string]bool) error {
	switch {
	case o.docs < 1:
		return fmt.Errorf("-docs %d must be at least 1", o.docs)
	case o.offsets < 1:
		return fmt.Errorf("-offsets %d must be at least 1", o.offsets)
	case o.steps < 1:
		return fmt.Errorf("-finetune-steps %d must be at least 1", o.steps)
	case o.batch < 1:
		return fmt.Errorf("-batch %d must be at least 1", o.batch)
	case !(o.lr > 0) || math.IsInf(o.lr, 0):
		return fmt.Errorf("-finetune-lr %v must be a finite learning rate > 0", o.lr)
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
	case !(o.alibiSlope >= 0) || math.IsInf(o.alibiSlope, 0):
		return fmt.Errorf("-alibi-slope %v must be a finite slope >= 0 (0: the default)", o.alibiSlope)
	case o.passkeyEvery < 0:
		return fmt.Errorf("-passkey-every %d must be >= 0 (one sequence in n; 0: none)", o.passkeyEvery)
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
