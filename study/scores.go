package study

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/infoscale/gaualpha/eval"
)

// scoresHeader is the first line of a scores file (WriteScores), the
// schema of the per-position scores (version 1): one line per scored
// position, ordered as the results and their Scores; correct is 0 or 1,
// loss the target's cross-entropy rounded to 7 decimals (well below the
// 1e-5 per position that tells identical predictions apart).
const scoresHeader = "length,doc,pos,pred,correct,loss"

// WriteScores writes the Scores of results (one variant's results at
// several lengths) as a gzipped CSV file, creating its directory.
func WriteScores(path string, results []eval.Result) error {
	return WriteFile(path, func(w io.Writer) error {
		zw := gzip.NewWriter(w)
		bw := bufio.NewWriter(zw)
		bw.WriteString(scoresHeader + "\n")
		var line []byte
		for _, res := range results {
			for _, s := range res.Scores {
				line = strconv.AppendInt(line[:0], int64(res.Length), 10)
				for _, v := range []int{s.Doc, s.Pos, s.Pred} {
					line = append(line, ',')
					line = strconv.AppendInt(line, int64(v), 10)
				}
				if s.Correct {
					line = append(line, ",1,"...)
				} else {
					line = append(line, ",0,"...)
				}
				line = strconv.AppendFloat(line, s.Loss, 'f', 7, 64)
				line = append(line, '\n')
				bw.Write(line)
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		return zw.Close()
	})
}

// ReadScores reads a file written by WriteScores: the scores of each
// length, in the file's order.
func ReadScores(path string) (map[int][]eval.Score, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out, err := readScores(zr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

func readScores(r io.Reader) (map[int][]eval.Score, error) {
	sc := bufio.NewScanner(r)
	if !sc.Scan() || strings.TrimSpace(sc.Text()) != scoresHeader {
		if err := sc.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("not a scores file (first line is not %q)", scoresHeader)
	}
	out := map[int][]eval.Score{}
	for n := 2; sc.Scan(); n++ {
		f := strings.Split(sc.Text(), ",")
		if len(f) != 6 {
			return nil, fmt.Errorf("line %d: %d fields, want 6", n, len(f))
		}
		var v [4]int
		for i := range v {
			x, err := strconv.Atoi(f[i])
			if err != nil || x < 0 {
				return nil, fmt.Errorf("line %d: bad %s %q", n, strings.Split(scoresHeader, ",")[i], f[i])
			}
			v[i] = x
		}
		if f[4] != "0" && f[4] != "1" {
			return nil, fmt.Errorf("line %d: bad correct %q (want 0 or 1)", n, f[4])
		}
		loss, err := strconv.ParseFloat(f[5], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: bad loss %q", n, f[5])
		}
		out[v[0]] = append(out[v[0]], eval.Score{Doc: v[1], Pos: v[2], Pred: v[3], Correct: f[4] == "1", Loss: loss})
	}
	return out, sc.Err()
}

// ScoresFile is the file of a suite configuration's per-position scores,
// relative to the suite's directory: scores/TAG/METHOD.NORM.csv.gz (TAG
// names the base model, cosS).
func ScoresFile(tag, method, norm string) string {
	return filepath.ToSlash(filepath.Join("scores", tag, method+"."+norm+".csv.gz"))
}

// ScoreReader reads the per-position scores of a suite's rows, each file
// once.
type ScoreReader struct {
	dir   string // the suite's directory
	files map[string]map[int][]eval.Score
}

// NewScoreReader reads the scores of the suite in dir.
func NewScoreReader(dir string) *ScoreReader {
	return &ScoreReader{dir: dir, files: map[string]map[int][]eval.Score{}}
}

// At returns row r's scores at length L.
func (sr *ScoreReader) At(r SuiteRow, L int) ([]eval.Score, error) {
	if r.Scores == "" {
		return nil, fmt.Errorf("%s has no per-position scores (a suite.json written before they were kept)", r.Label())
	}
	f, ok := sr.files[r.Scores]
	if !ok {
		var err error
		if f, err = ReadScores(filepath.Join(sr.dir, r.Scores)); err != nil {
			return nil, err
		}
		sr.files[r.Scores] = f
	}
	sc, ok := f[L]
	if !ok || len(sc) == 0 {
		return nil, fmt.Errorf("%s: no scores at length %d", r.Scores, L)
	}
	return sc, nil
}
