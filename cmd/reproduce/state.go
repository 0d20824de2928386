package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/layers"
)

// timing records how long a part took and the command that ran it.
type timing struct {
	Command  string  `json:"command"`
	Seconds  float64 `json:"seconds"`
	Finished string  `json:"finished"`
}

func timingsPath(out string) string { return filepath.Join(out, "logs", "timings.json") }

func loadTimings(out string) map[string]timing {
	t := map[string]timing{}
	if b, err := os.ReadFile(timingsPath(out)); err == nil {
		json.Unmarshal(b, &t)
	}
	return t
}

func saveTimings(out string, t map[string]timing) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(timingsPath(out), append(b, '\n'), 0o644)
}

// progressPath is the file that lists the parts finished in an output
// directory. The committed results/ holds every part's outputs but not this
// file (.gitignore), so in a fresh clone every part runs again rather than
// taking the committed outputs for its own.
func progressPath(out string) string { return filepath.Join(out, "progress.json") }

// loadProgress reads the finished parts of out (none when the file is
// missing or unreadable: the parts then run again).
func loadProgress(out string) map[string]bool {
	done := map[string]bool{}
	if b, err := os.ReadFile(progressPath(out)); err == nil {
		var names []string
		if json.Unmarshal(b, &names) == nil {
			for _, n := range names {
				done[n] = true
			}
		}
	}
	return done
}

// saveProgress writes the finished parts of out, sorted.
func saveProgress(out string, done map[string]bool) error {
	names := make([]string, 0, len(done))
	for n, ok := range done {
		if ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	b, err := json.MarshalIndent(names, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(progressPath(out), append(b, '\n'), 0o644)
}

// partDone reports whether pt finished in this output directory: it is
// listed in the progress file and its output is there.
func partDone(progress map[string]bool, pt part) bool {
	if !progress[pt.Name] {
		return false
	}
	_, err := os.Stat(pt.Done)
	return err == nil
}

// readState reads a checkpoint's trainer_state.json.
func readState(dir string) (*checkpoint.State, error) {
	b, err := os.ReadFile(filepath.Join(dir, checkpoint.StateFile))
	if err != nil {
		return nil, err
	}
	var st checkpoint.State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return &st, nil
}

// bestSweepScale returns the CosScale of the sweep model with the lowest
// validation loss.
func bestSweepScale(o options) (float64, error) {
	best, bestLoss := 0.0, math.Inf(1)
	for _, s := range o.profile.Sweep {
		st, err := readState(filepath.Join(o.modelDir(cosName(s)), "best"))
		if err != nil || st.BestValLoss == nil {
			return 0, fmt.Errorf("CosScale %g model has no validation loss: %v", s, err)
		}
		if *st.BestValLoss < bestLoss {
			best, bestLoss = s, *st.BestValLoss
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("no CosScale model in the profile")
	}
	return best, nil
}

// writePaperConfig writes the paper-size model configuration (its vocabulary
// size is a cap; the vocabulary comes from the corpus).
func writePaperConfig(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := layers.PaperConfig().Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
