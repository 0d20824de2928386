package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// CheckOutDir refuses, before any work, an output directory (given by the
// flag flagName) that cannot be created or written: a file in its place or
// on its path, or a directory (it, or the nearest one above it) that is not
// writable.
func CheckOutDir(flagName, dir string) error {
	p := filepath.Clean(dir)
	for {
		info, err := os.Stat(p)
		switch {
		case err == nil && !info.IsDir():
			if p == filepath.Clean(dir) {
				return fmt.Errorf("%s %s is a file, not a directory", flagName, dir)
			}
			return fmt.Errorf("%s %s: %s is a file, not a directory", flagName, dir, p)
		case err == nil:
			if syscall.Access(p, 2 /* W_OK */) != nil {
				return fmt.Errorf("%s %s: %s is not writable", flagName, dir, p)
			}
			return nil
		case !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
			return fmt.Errorf("%s %s: %w", flagName, dir, err)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
}
