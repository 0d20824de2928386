// Package runlock gives one process at a time the right to write a run
// folder (checkpoints, metrics log, results).
//
// The lock is an advisory lock on the file ".lock" inside the folder: flock
// on Unix, LockFileEx on Windows. The kernel releases it when the process
// ends, however it ends, so a killed run never leaves a stale lock. The file
// holds the holder's process ID, which a refused writer names; it is never
// removed (removing a lock file while another process waits on it would let
// two writers in).
//
// Readers (evaluation, analyses) take no lock: checkpoints are replaced
// atomically, and package checkpoint reads them without changing anything.
package runlock

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FileName is the name of the lock file inside a run folder.
const FileName = ".lock"

// ErrHeld is wrapped by the error Acquire returns when another writer holds
// the folder.
var ErrHeld = errors.New("held by another writer")

// Lock is a held run-folder lock.
type Lock struct {
	dir string
	f   *os.File
}

// Acquire creates dir if needed and takes its writer lock without waiting.
// If another process (or another Acquire in this process) holds it, the
// error wraps ErrHeld and names the folder and the holder's PID.
func Acquire(dir string) (*Lock, error) {
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("run folder %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("run folder %s: lock: %w", dir, err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("run folder %s: lock %s: %w", dir, path, err)
	}
	if held {
		holder := readHolder(f)
		f.Close()
		return nil, fmt.Errorf("run folder %s is %w (%s); wait for it to end or choose another folder", dir, ErrHeld, holder)
	}
	if err := writeHolder(f); err != nil {
		unlock(f)
		f.Close()
		return nil, fmt.Errorf("run folder %s: lock %s: %w", dir, path, err)
	}
	return &Lock{dir: dir, f: f}, nil
}

// Dir returns the folder the lock is for (cleaned).
func (l *Lock) Dir() string { return l.dir }

// Release gives the lock up. It may be called more than once.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := errors.Join(unlock(l.f), l.f.Close())
	l.f = nil
	if err != nil {
		return fmt.Errorf("run folder %s: release lock: %w", l.dir, err)
	}
	return nil
}

// readHolder describes the process named in a lock file.
func readHolder(f *os.File) string {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 64))
	if err != nil {
		return "PID unknown"
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return "PID unknown"
	}
	return "PID " + strconv.Itoa(pid)
}

// writeHolder replaces the lock file's content with this process's PID.
func writeHolder(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}
