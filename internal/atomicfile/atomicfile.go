// Package atomicfile writes files and whole directories so that a crash or a
// kill at any moment leaves either the old or the new content, never a torn
// file or a missing directory.
//
// Files are written to a temporary sibling, synced, and renamed over the
// target; directories are filled under a temporary sibling name and swapped
// in with two renames, which RecoverDir completes or undoes after a crash.
// Temporary siblings of a path p are named "." + base(p) + ".tmp-*".
//
// The functions assume a single writer per target; concurrent writers to the
// same path each succeed atomically but the last rename wins.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// PrevSuffix is appended to a directory's name while ReplaceDir swaps it
// out: between its two renames the previous directory is complete under
// that name.
const PrevSuffix = ".prev"

// tempPrefix returns the name prefix of temporary siblings of path.
func tempPrefix(path string) string {
	return "." + filepath.Base(path) + ".tmp-"
}

// WriteFile atomically replaces the file at path with what write produces.
// write gets a buffered writer onto a temporary file in the same directory;
// the file is then flushed, given permission perm (exactly, without the
// umask), synced, closed, and renamed over path, and the directory is synced.
// If anything fails, including write, the temporary file is removed and the
// old file at path is left untouched.
func WriteFile(path string, perm os.FileMode, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPrefix(path)+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if err == nil {
			return
		}
		if !renamed {
			f.Close()
			os.Remove(tmp)
		}
		err = fmt.Errorf("write %s: %w", path, err)
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	renamed = true
	// The new content is in place; a failure to sync the directory only
	// means the rename might not survive a power loss.
	return syncDir(dir)
}

// ReplaceDir atomically replaces the directory dir (which need not exist)
// with a new one that fill populates. fill receives the path of an empty
// temporary sibling directory and should write its files there; ReplaceDir
// syncs every file and directory under it before the swap, so fill need not.
//
// The swap renames dir to dir+".prev", renames the temporary directory to
// dir, syncs the parent, and removes dir+".prev". A crash between the two
// renames leaves dir missing; RecoverDir puts the old directory back. If fill
// or anything before the swap fails, the temporary directory is removed and
// dir is left untouched.
//
// The new directory keeps the permissions of the old one, or gets 0755.
func ReplaceDir(dir string, fill func(tmp string) error) (err error) {
	dir = filepath.Clean(dir)
	if err := finishSwap(dir); err != nil {
		return fmt.Errorf("replace directory %s: %w", dir, err)
	}
	parent := filepath.Dir(dir)
	tmp, err := os.MkdirTemp(parent, tempPrefix(dir)+"*")
	if err != nil {
		return fmt.Errorf("replace directory %s: %w", dir, err)
	}
	swapped := false
	defer func() {
		if err != nil && !swapped {
			os.RemoveAll(tmp)
		}
	}()

	perm := os.FileMode(0o755)
	old, statErr := os.Stat(dir)
	switch {
	case statErr == nil && !old.IsDir():
		return fmt.Errorf("replace directory %s: it exists and is not a directory", dir)
	case statErr == nil:
		perm = old.Mode().Perm()
	case !errors.Is(statErr, fs.ErrNotExist):
		return fmt.Errorf("replace directory %s: %w", dir, statErr)
	}
	if err := os.Chmod(tmp, perm); err != nil {
		return fmt.Errorf("replace directory %s: %w", dir, err)
	}
	if err := fill(tmp); err != nil {
		return fmt.Errorf("replace directory %s: %w", dir, err)
	}
	if err := syncTree(tmp); err != nil {
		return fmt.Errorf("replace directory %s: sync new content: %w", dir, err)
	}

	prev := dir + PrevSuffix
	hadOld := statErr == nil
	if hadOld {
		if err := os.Rename(dir, prev); err != nil {
			return fmt.Errorf("replace directory %s: move old directory aside: %w", dir, err)
		}
		if err := syncDir(parent); err != nil {
			// Put the old directory back so that dir is never left missing.
			if rerr := os.Rename(prev, dir); rerr != nil {
				return fmt.Errorf("replace directory %s: %w (and restoring it failed: %v; run RecoverDir)", dir, err, rerr)
			}
			return fmt.Errorf("replace directory %s: %w", dir, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if hadOld {
			if rerr := os.Rename(prev, dir); rerr != nil {
				return fmt.Errorf("replace directory %s: %w (and restoring the old one failed: %v; run RecoverDir)", dir, err, rerr)
			}
		}
		return fmt.Errorf("replace directory %s: %w", dir, err)
	}
	swapped = true
	if err := syncDir(parent); err != nil {
		return fmt.Errorf("replace directory %s: %w", dir, err)
	}
	if hadOld {
		if err := os.RemoveAll(prev); err != nil {
			return fmt.Errorf("replace directory %s: remove old directory: %w", dir, err)
		}
	}
	return nil
}

// RecoverDir repairs what a crash during ReplaceDir may have left next to
// dir; the next writer of dir calls it before writing. If dir is missing
// but dir+".prev" exists (a crash between the two renames), the old
// directory is renamed back; if both exist (a crash after the swap), the
// stale dir+".prev" is removed. Leftover temporary siblings from ReplaceDir
// and WriteFile are removed too. RecoverDir must not run while another
// process is writing dir, nor be called by readers: a reader meeting a
// swap in progress reads dir+".prev".
func RecoverDir(dir string) error {
	dir = filepath.Clean(dir)
	if err := finishSwap(dir); err != nil {
		return fmt.Errorf("recover directory %s: %w", dir, err)
	}
	if err := RemoveTemps(dir); err != nil {
		return fmt.Errorf("recover directory %s: %w", dir, err)
	}
	return nil
}

// finishSwap restores dir from dir+".prev" if dir is missing, or removes a
// stale dir+".prev" if dir exists.
func finishSwap(dir string) error {
	prev := dir + PrevSuffix
	if _, err := os.Lstat(prev); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	_, err := os.Lstat(dir)
	switch {
	case err == nil:
		if err := os.RemoveAll(prev); err != nil {
			return fmt.Errorf("remove stale %s: %w", prev, err)
		}
		return nil
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Rename(prev, dir); err != nil {
			return fmt.Errorf("restore %s: %w", prev, err)
		}
		return syncDir(filepath.Dir(dir))
	default:
		return err
	}
}

// RemoveTemps removes the temporary siblings that an interrupted WriteFile or
// ReplaceDir for path left behind. It must not run while another process is
// writing path.
func RemoveTemps(path string) error {
	parent := filepath.Dir(filepath.Clean(path))
	prefix := tempPrefix(filepath.Clean(path))
	entries, err := os.ReadDir(parent)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove temporary files: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			if err := os.RemoveAll(filepath.Join(parent, e.Name())); err != nil {
				return fmt.Errorf("remove temporary files: %w", err)
			}
		}
	}
	return nil
}

// syncTree syncs every regular file and directory under root, root last.
func syncTree(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			dirs = append(dirs, p)
		case d.Type().IsRegular():
			return syncFile(p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := syncDir(dirs[i]); err != nil {
			return err
		}
	}
	return nil
}

// syncFile fsyncs the regular file at path.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir fsyncs a directory so that renames and new entries in it are
// durable. Windows cannot sync directories, so there it does nothing.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return f.Close()
}
