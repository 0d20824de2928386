package cli

import (
	"errors"
	"math"
	"testing"
)

func TestFlagChecks(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{AtLeast("-batch", 1, 1, ""), ""},
		{AtLeast("-batch", 0, 1, ""), "-batch 0 must be at least 1"},
		{AtLeast("-seq-len", 2, 3, "[CLS], a token, [SEP]"), "-seq-len 2 must be at least 3 ([CLS], a token, [SEP])"},
		{AtLeast("-steps", -1, 0, "0: the default"), "-steps -1 must be >= 0 (0: the default)"},
		{AtLeast("-steps", 0, 0, "0: the default"), ""},
		{Finite("-lr", 1e-3, "learning rate", true, ""), ""},
		{Finite("-lr", 0, "learning rate", true, ""), "-lr 0 must be a finite learning rate > 0"},
		{Finite("-lr", math.NaN(), "learning rate", true, ""), "-lr NaN must be a finite learning rate > 0"},
		{Finite("-lr", math.Inf(1), "learning rate", true, ""), "-lr +Inf must be a finite learning rate > 0"},
		{Finite("-clip", 0, "number", false, "0 disables clipping"), ""},
		{Finite("-clip", -1, "number", false, "0 disables clipping"), "-clip -1 must be a finite number >= 0 (0 disables clipping)"},
		{Finite("-clip", math.NaN(), "number", false, ""), "-clip NaN must be a finite number >= 0"},
		{NoEffect(map[string]bool{"a": true}, "no effect with -x", "b"), ""},
		{NoEffect(map[string]bool{"a": true, "c": true}, "no effect with -x", "b", "c"), "-c has no effect with -x"},
		{NoEffect(map[string]bool{"a": true, "c": true}, "no effect with -x", "a", "b", "c"), "-a, -c have no effect with -x"},
	} {
		got := ""
		if c.err != nil {
			got = c.err.Error()
		}
		if got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	a, b := errors.New("a"), errors.New("b")
	if FirstError(nil, a, b) != a || FirstError(nil, nil) != nil {
		t.Error("FirstError does not return the first error")
	}
}
