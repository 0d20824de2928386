//go:build gpuemu

package driver

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// CheckEmuSources reports whether the emulator was compiled from the
// kernel sources in dir (kernels/cuda) as they are now. Go's build cache
// does not track the .cu files that emu.cc includes from there, so after an
// edit the emulator would silently run the old kernels until
// scripts/ptx-check.sh (or --hash without nvcc) rewrites emu_sources.h,
// which makes Go rebuild emu.cc. The tests of every package that runs the
// emulator call it first.
func CheckEmuSources(dir string) error {
	cur, err := kernelSourcesHash(dir)
	if err != nil {
		return fmt.Errorf("gpu: cannot hash the kernel sources: %w", err)
	}
	if built := EmuSourcesHash(); built != cur {
		return fmt.Errorf("gpu: the emulator was built from other kernel sources than %s holds now\n"+
			"(compiled %s, current %s): run scripts/ptx-check.sh (or --hash without nvcc) to update\n"+
			"gpu/driver/emu_sources.h, which makes Go rebuild emu.cc", dir, built, cur)
	}
	return nil
}

// kernelSourcesHash is scripts/ptx-check.sh's sources_hash: SHA-256 of
// *.cu, then *.cuh, then emu/*.h, each group in byte order.
func kernelSourcesHash(dir string) (string, error) {
	h := sha256.New()
	for _, pat := range []string{"*.cu", "*.cuh", "emu/*.h"} {
		files, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return "", err
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return "", err
			}
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
