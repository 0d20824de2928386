package study

import (
	"slices"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/eval"
)

// WriteScores and ReadScores round-trip (losses to 7 decimals); malformed
// files are refused with the line named.
func TestScoresFile(t *testing.T) {
	res := []eval.Result{
		{Length: 32, Scores: []eval.Score{{Doc: 0, Pos: 3, Pred: 7, Correct: true, Loss: 0.123456789}, {Doc: 1, Pos: 0, Pred: 2, Loss: 12.5}}},
		{Length: 64, Scores: []eval.Score{{Doc: 1, Pos: 63, Pred: 9, Loss: 3e-9}}},
	}
	path := t.TempDir() + "/sub/s.csv.gz"
	if err := WriteScores(path, res); err != nil {
		t.Fatal(err)
	}
	got, err := ReadScores(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int][]eval.Score{
		32: {{Doc: 0, Pos: 3, Pred: 7, Correct: true, Loss: 0.1234568}, {Doc: 1, Pos: 0, Pred: 2, Loss: 12.5}},
		64: {{Doc: 1, Pos: 63, Pred: 9, Loss: 0}},
	}
	if len(got) != len(want) {
		t.Fatalf("lengths %v", got)
	}
	for L, w := range want {
		if !slices.Equal(got[L], w) {
			t.Errorf("L=%d: %+v, want %+v", L, got[L], w)
		}
	}
	for _, c := range []struct{ text, want string }{
		{"length,doc\n", "not a scores file"},
		{scoresHeader + "\n32,0,1,2,1\n", "line 2: 5 fields"},
		{scoresHeader + "\n32,0,1,2,1,0.5\n32,x,1,2,1,0.5\n", "line 3: bad doc"},
		{scoresHeader + "\n32,0,1,2,yes,0.5\n", "bad correct"},
		{scoresHeader + "\n32,0,1,2,1,nan?\n", "bad loss"},
	} {
		if _, err := readScores(strings.NewReader(c.text)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.text, err, c.want)
		}
	}
}
