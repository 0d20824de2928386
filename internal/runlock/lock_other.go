//go:build !unix && !windows

package runlock

import (
	"fmt"
	"os"
	"runtime"
)

func tryLock(*os.File) (bool, error) {
	return false, fmt.Errorf("run-folder locks are not supported on %s", runtime.GOOS)
}

func unlock(*os.File) error { return nil }
