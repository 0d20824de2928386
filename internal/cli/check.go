package cli

import (
	"fmt"
	"math"
	"strings"
)

// AtLeast checks the value v of an integer flag (flag as written, "-batch")
// against its least value lo: nil when v >= lo, else "-batch 0 must be at
// least 1" (for lo 0: "must be >= 0"), followed by note in parentheses
// when note is not empty.
func AtLeast(flag string, v, lo int, note string) error {
	if v >= lo {
		return nil
	}
	bound := fmt.Sprintf("at least %d", lo)
	if lo == 0 {
		bound = ">= 0"
	}
	return fmt.Errorf("%s %d must be %s%s", flag, v, bound, parenthesis(note))
}

// Finite checks the value v of a float flag: nil when v is finite and
// above 0 (positive) or at least 0 (not positive), else "-lr NaN must be a
// finite learning rate > 0", the what being "learning rate", followed by
// note in parentheses when note is not empty.
func Finite(flag string, v float64, what string, positive bool, note string) error {
	bound := ">= 0"
	ok := v >= 0
	if positive {
		bound, ok = "> 0", v > 0
	}
	if ok && !math.IsInf(v, 0) {
		return nil
	}
	return fmt.Errorf("%s %v must be a finite %s %s%s", flag, v, what, bound, parenthesis(note))
}

func parenthesis(note string) string {
	if note == "" {
		return ""
	}
	return " (" + note + ")"
}

// FirstError returns the first of errs that is not nil: a command's flag
// checks, in the order their messages should be read.
func FirstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// NoEffect refuses flags that another flag makes meaningless (which would
// otherwise be ignored without a word): of names, the flags given on the
// command line (set, by name without the dash), in one error "-a, -b have
// why" ("-a has why" for one); nil when none was given.
func NoEffect(set map[string]bool, why string, names ...string) error {
	var given []string
	for _, n := range names {
		if set[n] {
			given = append(given, "-"+n)
		}
	}
	if len(given) == 0 {
		return nil
	}
	verb := "has"
	if len(given) > 1 {
		verb = "have"
	}
	return fmt.Errorf("%s %s %s", strings.Join(given, ", "), verb, why)
}
