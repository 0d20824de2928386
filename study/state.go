package study

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/gau"
)

// ReadState reads a checkpoint directory's trainer state
// (checkpoint.StateFile) without its weights.
func ReadState(dir string) (*checkpoint.State, error) {
	path := filepath.Join(dir, checkpoint.StateFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st checkpoint.State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &st, nil
}

// ReadConfig reads a checkpoint directory's model configuration
// (checkpoint.ConfigFile) without its weights.
func ReadConfig(dir string) (gau.Config, error) {
	return gau.LoadConfig(filepath.Join(dir, checkpoint.ConfigFile))
}

// BestValLoss is the best validation loss of the training run in dir (a
// model directory holding best/ and last/ checkpoints), from the state of
// its best checkpoint or else of its last; false when neither records one.
func BestValLoss(dir string) (float64, bool) {
	for _, sub := range []string{"best", "last"} {
		if st, err := ReadState(filepath.Join(dir, sub)); err == nil && st.BestValLoss != nil {
			return *st.BestValLoss, true
		}
	}
	return 0, false
}
