package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/optim"
	"github.com/infoscale/gaualpha/safetensors"
)

// resumable returns a tiny model's parameters and a fresh optimizer.
func resumable(t *testing.T) (gau.Config, *gau.Params, *optim.AdamW) {
	cfg, _ := tiny(t)
	p := gau.InitParams(cfg, tensor.Float32, rand.New(rand.NewPCG(1, 2)))
	var sizes []int
	for _, n := range p.Named() {
		sizes = append(sizes, n.T.Shape().TotalSize())
	}
	return cfg, p, optim.NewAdamW(sizes, p.DecayMask(), 0.01)
}

func TestLoadRefusesNonFinite(t *testing.T) {
	cfg, v := tiny(t)
	_, p, opt := resumable(t)
	dir := filepath.Join(t.TempDir(), "ck")
	if err := Save(dir, cfg, v, p, opt, nil); err != nil {
		t.Fatal(err)
	}
	layer0 := "gau_alpha.encoder.layer.0.gau.i_dense.weight"
	cases := []struct {
		name, file, tensor string
		vals               []float32
		want               string
	}{
		{"NaN in a layer", ModelFile, layer0, []float32{float32(math.NaN())}, layer0 + " has 1 NaN and 0 infinite"},
		// Before the check, a NaN in the tied embeddings read as an untied
		// decoder.
		{"NaN in the embeddings", ModelFile, gau.NameWordEmbeddings, []float32{float32(math.NaN()), float32(math.NaN())}, gau.NameWordEmbeddings + " has 2 NaN"},
		{"Inf in a layer", ModelFile, layer0, []float32{float32(math.Inf(-1))}, "0 NaN and 1 infinite"},
		{"Inf in a moment", OptimizerFile, layer0 + ".exp_avg_sq", []float32{float32(math.Inf(1))}, layer0 + ".exp_avg_sq has 0 NaN and 1 infinite"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.file)
			good, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(path, good, 0o644)
			poison(t, path, c.tensor, c.vals)
			_, err = Load(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "untied") {
				t.Fatalf("Load: %v, want an error containing %q", err, c.want)
			}
			if c.file == ModelFile {
				if _, _, err := loadWeights(path, cfg); err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("loadWeights: %v, want an error containing %q", err, c.want)
				}
			}
		})
	}
}

// poison rewrites the safetensors file at path with the first values of one
// tensor (and, for the word embeddings, of the tied decoder) replaced.
func poison(t *testing.T, path, name string, vals []float32) {
	t.Helper()
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ts []safetensors.Tensor
	for _, x := range f.Tensors() {
		if x.Name == name || name == gau.NameWordEmbeddings && x.Name == gau.NameDecoder {
			v, err := x.Float32s()
			if err != nil {
				t.Fatal(err)
			}
			copy(v, vals)
			x = safetensors.FromFloat32(x.Name, x.Shape, v)
		}
		ts = append(ts, x)
	}
	if err := safetensors.WriteFile(path, ts, f.Metadata()); err != nil {
		t.Fatal(err)
	}
}

func TestChecksums(t *testing.T) {
	cfg, v := tiny(t)
	_, p, opt := resumable(t)
	st := &State{Step: 3, Seed: 1, Options: json.RawMessage(`{}`)}
	dir := filepath.Join(t.TempDir(), "ck")
	save := func() {
		t.Helper()
		if err := Save(dir, cfg, v, p, opt, st); err != nil {
			t.Fatal(err)
		}
	}
	save()
	ck, err := Load(dir)
	if err != nil || len(ck.Changed) != 0 || ck.Unverified {
		t.Fatalf("fresh checkpoint: changed %v, unverified %v, err %v", ck.Changed, ck.Unverified, err)
	}
	edit := func(name string, f func([]byte) []byte) {
		t.Helper()
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name   string
		change func()
		want   []string
	}{
		{"config edited", func() {
			edit(ConfigFile, func(b []byte) []byte {
				return []byte(strings.Replace(string(b), `"num_hidden_layers": 2`, `"num_hidden_layers": 1`, 1))
			})
		}, []string{ConfigFile}},
		{"state edited", func() {
			edit(StateFile, func(b []byte) []byte { return []byte(strings.Replace(string(b), `"step": 3`, `"step": 2`, 1)) })
		}, []string{StateFile}},
		{"optimizer removed", func() { os.Remove(filepath.Join(dir, OptimizerFile)) }, []string{OptimizerFile + " (missing)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			save()
			c.change()
			ck, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ck.Changed, c.want) {
				t.Errorf("Changed = %v, want %v", ck.Changed, c.want)
			}
		})
	}
	save()
	os.Remove(filepath.Join(dir, SumsFile))
	if ck, err := Load(dir); err != nil || !ck.Unverified || len(ck.Changed) != 0 {
		t.Errorf("no checksums: unverified %v, changed %v, err %v", ck.Unverified, ck.Changed, err)
	}
	// The file is sha256sum's format: one "hex  name" line per file.
	save()
	b, _ := os.ReadFile(filepath.Join(dir, SumsFile))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 5 || !strings.HasSuffix(lines[0], "  "+ConfigFile) || len(strings.Fields(lines[0])[0]) != 64 {
		t.Errorf("checksums.sha256:\n%s", b)
	}
}

// listTree returns every path under dir with its size, sorted.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %d", p, fi.Size()))
		return nil
	})
	return out
}

// A reader meeting a swap that a killed writer left half done reads the
// previous checkpoint and changes nothing; the next writer repairs it.
func TestLoadIsReadOnly(t *testing.T) {
	cfg, v := tiny(t)
	_, p, opt := resumable(t)
	run := t.TempDir()
	dir := filepath.Join(run, "last")
	if err := Save(dir, cfg, v, p, opt, &State{Step: 5, Options: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	// A writer killed between its two renames, with a temporary folder of
	// the next checkpoint half written.
	if err := os.Rename(dir, dir+".prev"); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(run, ".last.tmp-123")
	os.Mkdir(tmp, 0o755)
	os.WriteFile(filepath.Join(tmp, ConfigFile), []byte("{"), 0o644)
	before := listTree(t, run)
	ck, err := Load(dir)
	if err != nil {
		t.Fatalf("Load during a half-done swap: %v", err)
	}
	if ck.State.Step != 5 {
		t.Errorf("read step %d, want the previous checkpoint's 5", ck.State.Step)
	}
	if after := listTree(t, run); !slices.Equal(before, after) {
		t.Errorf("Load changed the folder:\nbefore %v\nafter  %v", before, after)
	}
	if err := Recover(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("Recover did not put the checkpoint back: %v", err)
	}
	for _, p := range []string{dir + ".prev", tmp} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("Recover left %s", p)
		}
	}
	if _, err := Load(filepath.Join(run, "missing")); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("missing checkpoint: %v", err)
	}
}

// One writer replaces a checkpoint as fast as it can while readers load it
// in a loop: no load fails, every load is one checkpoint whole (weights,
// moments and state all written by the same Save), and the writer never
// fails.
func TestLoadWhileSaving(t *testing.T) {
	cfg, v := tiny(t)
	_, p, opt := resumable(t)
	dir := filepath.Join(t.TempDir(), "last")
	stamp := func(k int) {
		for i, n := range p.Named() {
			for j := range n.T.Data().([]float32) {
				n.T.Data().([]float32)[j] = float32(k)
				opt.M[i][j] = float32(k)
			}
		}
		opt.Step = k
	}
	save := func(k int) error {
		stamp(k)
		return Save(dir, cfg, v, p, opt, &State{Step: k, Options: json.RawMessage(`{}`)})
	}
	if err := save(0); err != nil {
		t.Fatal(err)
	}
	duration := 2 * time.Second
	if testing.Short() {
		duration = 300 * time.Millisecond
	}
	stop := make(chan struct{})
	var saves, loads atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 1; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := save(k); err != nil {
				errs <- fmt.Errorf("writer, save %d: %w", k, err)
				return
			}
			saves.Add(1)
		}
	}()
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ck, err := Load(dir)
				if err != nil {
					errs <- fmt.Errorf("reader: %w", err)
					return
				}
				if err := consistent(ck); err != nil {
					errs <- err
					return
				}
				loads.Add(1)
			}
		}()
	}
	time.Sleep(duration)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if saves.Load() < 10 || loads.Load() < 10 {
		t.Errorf("only %d saves and %d loads in %v", saves.Load(), loads.Load(), duration)
	}
	t.Logf("%d saves, %d loads", saves.Load(), loads.Load())
}

// consistent checks that every value of a checkpoint written by
// TestLoadWhileSaving's writer carries the same stamp.
func consistent(ck *Checkpoint) error {
	k := ck.State.Step
	if ck.Opt.Step != k {
		return fmt.Errorf("state step %d, optimizer step %d", k, ck.Opt.Step)
	}
	if len(ck.Changed) != 0 {
		return fmt.Errorf("checkpoint %d: changed %v", k, ck.Changed)
	}
	for i, n := range ck.Params.Named() {
		for j, x := range n.T.Data().([]float32) {
			if x != float32(k) || ck.Opt.M[i][j] != float32(k) {
				return fmt.Errorf("checkpoint of step %d mixes in %v / %v (%s)", k, x, ck.Opt.M[i][j], n.Name)
			}
		}
	}
	return nil
}
