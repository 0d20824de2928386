package study

import "slices"

// PasskeyConfigs are the configurations of the rows, in the order of
// their first row.
func PasskeyConfigs(rows []PasskeyRow) []ConfigKey {
	var keys []ConfigKey
	for _, r := range rows {
		if !slices.Contains(keys, r.Key()) {
			keys = append(keys, r.Key())
		}
	}
	return keys
}

// PasskeyCurveRows pools the digits of the rows of the configurations in
// keys over seeds and documents: a row per configuration, length and
// distance class, in the order of their first row (passkey_curve.csv).
func PasskeyCurveRows(rows []PasskeyRow, keys []ConfigKey) []PasskeyCurveRow {
	type cell struct {
		k     ConfigKey
		L     int
		class string
	}
	sums := map[cell][2]int{}
	var order []cell
	for _, r := range rows {
		if !slices.Contains(keys, r.Key()) {
			continue
		}
		ce := cell{r.Key(), r.Length, r.Class}
		if _, ok := sums[ce]; !ok {
			order = append(order, ce)
		}
		s := sums[ce]
		sums[ce] = [2]int{s[0] + r.DigitsRight, s[1] + r.Digits}
	}
	var curve []PasskeyCurveRow
	for _, ce := range order {
		s := sums[ce]
		curve = append(curve, PasskeyCurveRow{Config: ce.k.String(), Length: ce.L, Class: ce.class, Digits: s[1], DigitsRight: s[0], Accuracy: float64(s[0]) / float64(max(1, s[1]))})
	}
	return curve
}
