package study

import (
	"slices"
	"testing"
)

// The curve pools digits over seeds and documents per configuration,
// length and class, keeps the order of the first rows, and leaves out
// configurations not asked for.
func TestPasskeyCurveRows(t *testing.T) {
	a := PasskeyRow{CosScale: 0, Method: "rope", Norm: "softmax"}
	b := PasskeyRow{CosScale: 128, Method: "rope", Norm: "infoscale"}
	row := func(r PasskeyRow, L int, class string, doc, digits, right int) PasskeyRow {
		r.Length, r.Class, r.Doc, r.Digits, r.DigitsRight = L, class, doc, digits, right
		return r
	}
	rows := []PasskeyRow{
		row(b, 64, "far", 0, 5, 1), row(a, 64, "near", 0, 5, 5), row(b, 64, "far", 1, 5, 4),
		row(a, 64, "near", 1, 10, 0), row(b, 128, "far", 0, 0, 0),
	}
	if got := PasskeyConfigs(rows); !slices.Equal(got, []ConfigKey{b.Key(), a.Key()}) {
		t.Errorf("configs %v", got)
	}
	got := PasskeyCurveRows(rows, []ConfigKey{b.Key()})
	want := []PasskeyCurveRow{
		{Config: b.Key().String(), Length: 64, Class: "far", Digits: 10, DigitsRight: 5, Accuracy: 0.5},
		{Config: b.Key().String(), Length: 128, Class: "far"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("curve %+v, want %+v", got, want)
	}
	if got := PasskeyCurveRows(rows, PasskeyConfigs(rows)); len(got) != 3 || got[1].Config != a.Key().String() || got[1].Digits != 15 || got[1].DigitsRight != 5 || got[2].Length != 128 {
		t.Errorf("curve of every configuration %+v", got)
	}
}
