//go:build gpuemu

package gpu

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// TestMain stops the emulator's tests when the kernel sources differ from
// the ones compiled in: Go's build cache does not track the .cu files that
// emu.cc includes from kernels/cuda, so after an edit the emulator would
// silently run the old kernels.
func TestMain(m *testing.M) {
	cur, err := kernelSourcesHash(filepath.Join("..", "kernels", "cuda"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "gpu: cannot hash the kernel sources:", err)
		os.Exit(2)
	}
	if built := emuSourcesHash(); built != cur {
		fmt.Fprintf(os.Stderr, "gpu: the emulator was built from other kernel sources than kernels/cuda holds now\n"+
			"(compiled %s, current %s): run scripts/ptx-check.sh (or --hash without nvcc) to update\n"+
			"gpu/emu_sources.h, which makes Go rebuild emu.cc\n", built, cur)
		os.Exit(2)
	}
	os.Exit(m.Run())
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
