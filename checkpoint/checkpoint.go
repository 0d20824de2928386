// Package checkpoint reads and writes checkpoint directories: config.json,
// vocab.txt and model.safetensors in Hugging Face's conventions (a PyTorch
// GAU-α loads the weights), and, for a resumable training run, the AdamW
// moments (optimizer.safetensors) and the trainer's state
// (trainer_state.json). Writes are atomic: a crash at any moment leaves
// the previous checkpoint whole.
package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/internal/atomicfile"
	"github.com/infoscale/gaualpha/optim"
	"github.com/infoscale/gaualpha/safetensors"
	"github.com/infoscale/gaualpha/tokenizer"
)

// Files of a checkpoint directory. config.json, vocab.txt and
// model.safetensors follow Hugging Face conventions (a PyTorch GAU-α loads
// the weights); the optimizer moments and the trainer state make the
// directory resumable.
const (
	ConfigFile    = "config.json"
	VocabFile     = "vocab.txt"
	ModelFile     = "model.safetensors"
	OptimizerFile = "optimizer.safetensors"
	StateFile     = "trainer_state.json"
	// SumsFile lists the SHA-256 of every other file as Save wrote it, in
	// the format of sha256sum (so `sha256sum -c checksums.sha256` checks a
	// checkpoint by hand).
	SumsFile = "checksums.sha256"
)

// State is the trainer's progress, saved as trainer_state.json. All the
// randomness of a run derives from (Seed, step), so Step and Seed are the
// whole random-number state. Options holds the trainer's hyper-parameters
// as the trainer wrote them (package train decodes them).
type State struct {
	Step        int             `json:"step"`
	Seed        uint64          `json:"seed"`
	BestValLoss *float64        `json:"best_val_loss,omitempty"`
	BestStep    int             `json:"best_step,omitempty"`
	Elapsed     float64         `json:"elapsed_seconds"`
	Options     json.RawMessage `json:"options"`
	Corpus      string          `json:"corpus,omitempty"`
	// FirstValLoss is the run's first validation loss, the reference of
	// the trainer's divergence rule.
	FirstValLoss *float64 `json:"first_val_loss,omitempty"`
	// MetricsLog names the file of the run folder that held the run's
	// metrics log when the checkpoint was written: "metrics.jsonl", or a
	// temporary file while a run started over an earlier one has not yet
	// replaced that run's log (package train).
	MetricsLog string `json:"metrics_log,omitempty"`
}

// Checkpoint is a loaded checkpoint directory.
type Checkpoint struct {
	Config gau.Config
	Vocab  *tokenizer.Vocab
	Params *gau.Params
	Opt    *optim.AdamW // nil when the directory has no optimizer state
	State  *State       // nil when the directory has no trainer state
	// Notes lists tensors of the weights file that were not used (for
	// example the layers beyond num_hidden_layers of a deeper published
	// model).
	Notes []string
	// Changed lists the files whose content differs from the checksum
	// Save recorded (edited by hand or corrupted), and recorded files that
	// are missing. A resumed run refuses a changed checkpoint.
	Changed []string
	// Unverified is set when the directory has no checksums.sha256 (a
	// checkpoint written by other software or an older version).
	Unverified bool
}

// Save writes a checkpoint directory atomically: a crash or kill at any
// moment leaves the previous checkpoint complete. opt and st may be nil
// (a weights-only checkpoint).
func Save(dir string, cfg gau.Config, v *tokenizer.Vocab, p *gau.Params, opt *optim.AdamW, st *State) error {
	files, err := encode(cfg, v, p, opt, st)
	if err != nil {
		return fmt.Errorf("saving checkpoint %s: %w", dir, err)
	}
	err = atomicfile.ReplaceDir(dir, func(tmp string) error {
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(tmp, f.name), f.data, 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("saving checkpoint %s: %w", dir, err)
	}
	return nil
}

// file is one file of a checkpoint directory.
type file struct {
	name string
	data []byte
}

// encode returns the files of a checkpoint, checksums.sha256 last.
func encode(cfg gau.Config, v *tokenizer.Vocab, p *gau.Params, opt *optim.AdamW, st *State) ([]file, error) {
	cfgJSON, err := cfg.Marshal()
	if err != nil {
		return nil, err
	}
	var vocab bytes.Buffer
	if err := v.Write(&vocab); err != nil {
		return nil, err
	}
	weights, err := encodeWeights(p)
	if err != nil {
		return nil, err
	}
	files := []file{{ConfigFile, cfgJSON}, {VocabFile, vocab.Bytes()}, {ModelFile, weights}}
	if opt != nil {
		b, err := encodeOptimizer(p, opt)
		if err != nil {
			return nil, err
		}
		files = append(files, file{OptimizerFile, b})
	}
	if st != nil {
		b, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return nil, err
		}
		files = append(files, file{StateFile, append(b, '\n')})
	}
	var sums strings.Builder
	for _, f := range files {
		h := sha256.Sum256(f.data)
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(h[:]), f.name)
	}
	return append(files, file{SumsFile, []byte(sums.String())}), nil
}

func float32s(t *tensor.Dense) []float32 { return t.Data().([]float32) }

// weightTensors lists the model's tensors under their Hugging Face names,
// with the MLM decoder written as a copy of the word embeddings (it is tied
// to them), as PyTorch GAU-α checkpoints carry it.
func weightTensors(p *gau.Params) []safetensors.Tensor {
	var ts []safetensors.Tensor
	for _, n := range p.Named() {
		ts = append(ts, safetensors.FromFloat32(n.Name, n.T.Shape(), float32s(n.T)))
		if n.Name == gau.NameWordEmbeddings {
			ts = append(ts, safetensors.FromFloat32(gau.NameDecoder, n.T.Shape(), float32s(n.T)))
		}
	}
	return ts
}

// encodeWeights returns model.safetensors.
func encodeWeights(p *gau.Params) ([]byte, error) {
	if p.Dtype != tensor.Float32 {
		return nil, fmt.Errorf("checkpoints hold float32 weights, model is %v", p.Dtype)
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, weightTensors(p), map[string]string{"format": "pt"}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// encodeOptimizer returns optimizer.safetensors: the AdamW moments under
// the parameters' names (".exp_avg", ".exp_avg_sq"), the step and the
// hyper-parameters in the metadata.
func encodeOptimizer(p *gau.Params, o *optim.AdamW) ([]byte, error) {
	var ts []safetensors.Tensor
	for i, n := range p.Named() {
		ts = append(ts,
			safetensors.FromFloat32(n.Name+".exp_avg", n.T.Shape(), o.M[i]),
			safetensors.FromFloat32(n.Name+".exp_avg_sq", n.T.Shape(), o.V[i]))
	}
	meta := map[string]string{
		"step": strconv.Itoa(o.Step), "beta1": fmt.Sprint(o.Beta1), "beta2": fmt.Sprint(o.Beta2),
		"eps": fmt.Sprint(o.Eps), "weight_decay": fmt.Sprint(o.WeightDecay),
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, meta); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Recover repairs what a writer killed in the middle of Save left next to
// dir (see atomicfile.RecoverDir). Only the run's writer calls it, holding
// the run folder's lock; Load never changes anything.
func Recover(dir string) error { return atomicfile.RecoverDir(dir) }

// Load reads a checkpoint directory: config.json, vocab.txt and
// model.safetensors are required; the optimizer and trainer state are read
// when present. Every tensor must be finite.
//
// Load changes nothing on disk, so it may run while a trainer replaces dir.
// It reads every file through one handle on the directory, so it sees one
// checkpoint whole, never files of two; if dir was replaced while it read,
// it reads again, and while a replacement is half done (dir moved aside,
// the new one not yet in place) it reads the previous checkpoint from its
// temporary name. It gives up, saying so, if dir keeps changing.
func Load(dir string) (*Checkpoint, error) {
	dir = filepath.Clean(dir)
	const attempts = 50
	wait := time.Millisecond
	for range attempts {
		ck, stable, err := loadOnce(dir)
		if stable {
			return ck, err
		}
		time.Sleep(wait)
		wait = min(2*wait, 200*time.Millisecond)
	}
	return nil, fmt.Errorf("checkpoint %s: replaced %d times while being read (a training run is writing it); try again", dir, attempts)
}

// loadOnce reads the checkpoint once. stable reports that the directory
// it read was not replaced while it read, so that ck (or err) holds.
func loadOnce(dir string) (ck *Checkpoint, stable bool, err error) {
	from := dir
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		// A replacement between its two renames: the previous checkpoint
		// is complete under its temporary name.
		from = dir + atomicfile.PrevSuffix
		var perr error
		if root, perr = os.OpenRoot(from); errors.Is(perr, fs.ErrNotExist) {
			if _, serr := os.Stat(dir); serr == nil {
				return nil, false, nil // put in place meanwhile
			}
		} else {
			err = perr
		}
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is dir, named below
		}
		return nil, true, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	defer root.Close()
	ck, err = read(root, dir)
	here, serr := root.Stat(".")
	if serr != nil {
		return nil, false, nil
	}
	if live, lerr := os.Stat(dir); from == dir {
		stable = lerr == nil && os.SameFile(here, live)
	} else {
		// Still between the renames, and the same previous directory.
		prev, perr := os.Stat(from)
		stable = errors.Is(lerr, fs.ErrNotExist) && perr == nil && os.SameFile(here, prev)
	}
	return ck, stable, err
}

// read reads the files of a checkpoint through root; dir names it in
// errors.
func read(root *os.Root, dir string) (*Checkpoint, error) {
	files := map[string][]byte{}
	readFile := func(name string, required bool) error {
		b, err := root.ReadFile(name)
		switch {
		case err == nil:
			files[name] = b
		case errors.Is(err, fs.ErrNotExist) && !required:
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("checkpoint %s: no %s", dir, name)
		default:
			return fmt.Errorf("checkpoint %s: %w", dir, err)
		}
		return nil
	}
	for _, f := range []struct {
		name     string
		required bool
	}{{ConfigFile, true}, {VocabFile, true}, {ModelFile, true}, {OptimizerFile, false}, {StateFile, false}, {SumsFile, false}} {
		if err := readFile(f.name, f.required); err != nil {
			return nil, err
		}
	}
	path := func(name string) string { return filepath.Join(dir, name) }
	cfg, err := gau.ReadConfig(bytes.NewReader(files[ConfigFile]), path(ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	v, err := tokenizer.Read(bytes.NewReader(files[VocabFile]), path(VocabFile))
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if v.Size() != cfg.VocabSize {
		return nil, fmt.Errorf("checkpoint %s: vocab.txt has %d tokens, config.json says vocab_size %d", dir, v.Size(), cfg.VocabSize)
	}
	p, notes, err := decodeWeights(files[ModelFile], path(ModelFile), cfg)
	if err != nil {
		return nil, err
	}
	ck := &Checkpoint{Config: cfg, Vocab: v, Params: p, Notes: notes}
	if b, ok := files[OptimizerFile]; ok {
		if ck.Opt, err = decodeOptimizer(b, path(OptimizerFile), p); err != nil {
			return nil, err
		}
	}
	if b, ok := files[StateFile]; ok {
		var st State
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", path(StateFile), err)
		}
		ck.State = &st
	}
	if sums, ok := files[SumsFile]; ok {
		if ck.Changed, err = changed(sums, files, path(SumsFile)); err != nil {
			return nil, err
		}
	} else {
		ck.Unverified = true
	}
	return ck, nil
}

// changed compares the files read with the checksums Save recorded: it
// returns the files whose content differs, the recorded files that are
// missing, and the files read that the record does not list.
func changed(sums []byte, files map[string][]byte, name string) ([]string, error) {
	recorded := map[string]string{}
	for i, line := range strings.Split(strings.TrimSuffix(string(sums), "\n"), "\n") {
		sum, file, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 2*sha256.Size {
			return nil, fmt.Errorf("checkpoint %s: line %d is not \"SHA-256  file\"", name, i+1)
		}
		recorded[file] = sum
	}
	var out []string
	for _, f := range []string{ConfigFile, VocabFile, ModelFile, OptimizerFile, StateFile} {
		b, read := files[f]
		sum, ok := recorded[f]
		switch {
		case !read && !ok:
		case !read:
			out = append(out, f+" (missing)")
		case !ok:
			out = append(out, f+" (not recorded)")
		default:
			h := sha256.Sum256(b)
			if hex.EncodeToString(h[:]) != sum {
				out = append(out, f)
			}
		}
	}
	return out, nil
}

var deepLayer = regexp.MustCompile(`^gau_alpha\.encoder\.layer\.(\d+)\.`)

// Fit returns the checkpoint's weights for cfg, which may have fewer
// layers than the checkpoint (the first ones are taken) and must otherwise
// have its shapes. The notes say what was left out. The tensors are copies.
func (ck *Checkpoint) Fit(cfg gau.Config) (*gau.Params, []string, error) {
	have := map[string]*tensor.Dense{}
	for _, n := range ck.Params.Named() {
		have[n.Name] = n.T
	}
	p := gau.ZeroParams(cfg, tensor.Float32)
	for _, n := range p.Named() {
		src, ok := have[n.Name]
		switch {
		case !ok:
			return nil, nil, fmt.Errorf("the checkpoint has no tensor %s (%d layers; the config asks for %d)", n.Name, ck.Config.NumLayers, cfg.NumLayers)
		case !src.Shape().Eq(n.T.Shape()):
			return nil, nil, fmt.Errorf("tensor %s has shape %v, the config expects %v", n.Name, src.Shape(), n.T.Shape())
		}
		copy(float32s(n.T), float32s(src))
		delete(have, n.Name)
	}
	var notes []string
	if len(have) > 0 {
		notes = append(notes, fmt.Sprintf("skipped %d tensors of layers beyond num_hidden_layers = %d", len(have), cfg.NumLayers))
	}
	return p, notes, nil
}

// decodeWeights reads model weights for cfg from the content of a
// safetensors file written here or exported from PyTorch (F32, F64, F16 or
// BF16; converted to float32); path names it. The MLM decoder may be absent
// (it is tied to the word embeddings); when present it must equal them.
// Layers beyond num_hidden_layers are skipped, which is how the paper takes
// the first 6 layers of the 24-layer GAU-α; they and any other unknown
// tensors are returned as notes.
func decodeWeights(data []byte, path string, cfg gau.Config) (*gau.Params, []string, error) {
	f, err := safetensors.Read(data)
	if err != nil {
		return nil, nil, fmt.Errorf("weights %s: %w", path, err)
	}
	p := gau.ZeroParams(cfg, tensor.Float32)
	used := map[string]bool{}
	for _, n := range p.Named() {
		t, ok := f.Tensor(n.Name)
		if !ok {
			return nil, nil, fmt.Errorf("weights %s: missing tensor %s", path, n.Name)
		}
		if err := fill(n.T, t); err != nil {
			return nil, nil, fmt.Errorf("weights %s: %w", path, err)
		}
		used[n.Name] = true
	}
	if t, ok := f.Tensor(gau.NameDecoder); ok {
		dec := tensor.New(tensor.WithShape(p.WordEmb.Shape()...), tensor.Of(tensor.Float32))
		if err := fill(dec, t); err != nil {
			return nil, nil, fmt.Errorf("weights %s: %w", path, err)
		}
		if !slices.Equal(float32s(dec), float32s(p.WordEmb)) {
			return nil, nil, fmt.Errorf("weights %s: %s differs from %s; GAU-α ties them and untied heads are not supported", path, gau.NameDecoder, gau.NameWordEmbeddings)
		}
		used[gau.NameDecoder] = true
	}
	var notes []string
	skipped := 0
	for _, name := range f.Names() {
		if used[name] {
			continue
		}
		if m := deepLayer.FindStringSubmatch(name); m != nil {
			if i, _ := strconv.Atoi(m[1]); i >= cfg.NumLayers {
				skipped++
				continue
			}
		}
		notes = append(notes, "unused tensor "+name)
	}
	if skipped > 0 {
		notes = append(notes, fmt.Sprintf("skipped %d tensors of layers beyond num_hidden_layers = %d", skipped, cfg.NumLayers))
	}
	return p, notes, nil
}

// fill copies a file tensor into dst after checking its shape.
func fill(dst *tensor.Dense, t safetensors.Tensor) error {
	if !slices.Equal(t.Shape, []int(dst.Shape())) {
		return fmt.Errorf("tensor %s has shape %v, the config expects %v", t.Name, t.Shape, dst.Shape())
	}
	v, err := t.Float32s()
	if err != nil {
		return fmt.Errorf("tensor %s: %w", t.Name, err)
	}
	if err := finite(t.Name, v); err != nil {
		return err
	}
	copy(float32s(dst), v)
	return nil
}

// finite reports NaN and infinite values in the tensor called name.
func finite(name string, v []float32) error {
	var nan, inf int
	for _, x := range v {
		switch {
		case x != x:
			nan++
		case math.IsInf(float64(x), 0):
			inf++
		}
	}
	if nan+inf == 0 {
		return nil
	}
	return fmt.Errorf("tensor %s has %d NaN and %d infinite values of %d; the checkpoint cannot be used (was training diverging?)", name, nan, inf, len(v))
}

func decodeOptimizer(data []byte, path string, p *gau.Params) (*optim.AdamW, error) {
	f, err := safetensors.Read(data)
	if err != nil {
		return nil, fmt.Errorf("optimizer %s: %w", path, err)
	}
	meta := f.Metadata()
	num := func(k string) (float64, error) {
		x, err := strconv.ParseFloat(meta[k], 64)
		if err != nil {
			return 0, fmt.Errorf("optimizer %s: metadata %q: %w", path, k, err)
		}
		return x, nil
	}
	var vals [5]float64
	for i, k := range []string{"step", "beta1", "beta2", "eps", "weight_decay"} {
		if vals[i], err = num(k); err != nil {
			return nil, err
		}
	}
	named := p.Named()
	sizes := make([]int, len(named))
	for i, n := range named {
		sizes[i] = n.T.Shape().TotalSize()
	}
	o := optim.NewAdamW(sizes, p.DecayMask(), vals[4])
	o.Step, o.Beta1, o.Beta2, o.Eps = int(vals[0]), vals[1], vals[2], vals[3]
	for i, n := range named {
		for _, part := range []struct {
			suffix string
			dst    []float32
		}{{".exp_avg", o.M[i]}, {".exp_avg_sq", o.V[i]}} {
			t, ok := f.Tensor(n.Name + part.suffix)
			if !ok {
				return nil, fmt.Errorf("optimizer %s: missing tensor %s", path, n.Name+part.suffix)
			}
			v, err := t.Float32s()
			if err != nil || len(v) != len(part.dst) {
				return nil, fmt.Errorf("optimizer %s: tensor %s does not fit the model", path, n.Name+part.suffix)
			}
			if err := finite(t.Name, v); err != nil {
				return nil, fmt.Errorf("optimizer %s: %w", path, err)
			}
			copy(part.dst, v)
		}
	}
	return o, nil
}
