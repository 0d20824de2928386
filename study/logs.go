package study

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// Timing records how long a part took and the command that ran it.
type Timing struct {
	Command  string  `json:"command"`
	Seconds  float64 `json:"seconds"`
	Finished string  `json:"finished"`
}

func timingsPath(out string) string { return filepath.Join(out, "logs", "timings.json") }

// ReadTimings reads logs/timings.json, the timings of the parts by name
// (none when the file is missing or unreadable).
func ReadTimings(out string) map[string]Timing {
	t := map[string]Timing{}
	if b, err := os.ReadFile(timingsPath(out)); err == nil {
		if json.Unmarshal(b, &t) != nil {
			return map[string]Timing{}
		}
	}
	return t
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// BestSweepScale returns the CosScale of the sweep model with the lowest
// validation loss; under rules version 3, the lowest other than the
// headline CosScale, whose base model the study trains anyway.
func (o Study) BestSweepScale() (float64, error) {
	best, bestLoss := 0.0, math.Inf(1)
	for _, s := range o.Profile.Sweep {
		if o.Profile.Rules >= 3 && s == o.Profile.Headline {
			continue
		}
		st, err := ReadState(filepath.Join(o.ModelDir(CosName(s)), "best"))
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
