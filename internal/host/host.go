// Package host reads the facts about the machine that the commands plan
// and report with: its memory (total and available, from /proc/meminfo),
// its CPU's name (from /proc/cpuinfo) and vector features. On systems without those files
// the memory is an error and the CPU is named by its architecture.
package host

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/cpu"
)

// MemAvailable returns the memory available for starting new programs
// without swapping (MemAvailable of /proc/meminfo), in bytes.
func MemAvailable() (int64, error) { return meminfo("MemAvailable") }

// MemTotal returns the machine's memory (MemTotal of /proc/meminfo), in
// bytes.
func MemTotal() (int64, error) { return meminfo("MemTotal") }

func meminfo(key string) (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return parseMeminfo(f, key)
}

// parseMeminfo reads the line of key ("MemAvailable:   123 kB") from a
// /proc/meminfo text, in bytes.
func parseMeminfo(r io.Reader, key string) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != key {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("meminfo: unexpected %s line %q", key, sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || kb < 0 || kb > math.MaxInt64/1024 {
			return 0, fmt.Errorf("meminfo: bad %s %q", key, fields[0])
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("meminfo: %w", err)
	}
	return 0, fmt.Errorf("meminfo: no %s line", key)
}

// CPUModel names the CPU: the first "model name" of /proc/cpuinfo, or the
// architecture ("amd64 CPU") where there is none.
func CPUModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH + " CPU"
	}
	defer f.Close()
	return parseCPUModel(f)
}

func parseCPUModel(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(rest)
		}
	}
	return runtime.GOARCH + " CPU"
}

// CPUFeatures lists the vector features of the CPU that the kernels choose
// from (golang.org/x/sys/cpu), as "AVX2/FMA/AVX512F/...": those the CPU
// has, in a fixed order; empty on other architectures.
func CPUFeatures() string {
	var have []string
	for _, f := range []struct {
		name string
		ok   bool
	}{
		{"AVX2", cpu.X86.HasAVX2}, {"FMA", cpu.X86.HasFMA}, {"AVX512F", cpu.X86.HasAVX512F},
		{"AVX512BW", cpu.X86.HasAVX512BW}, {"AVX512VL", cpu.X86.HasAVX512VL},
		{"AVX512DQ", cpu.X86.HasAVX512DQ}, {"AVX512_BF16", cpu.X86.HasAVX512BF16},
	} {
		if f.ok {
			have = append(have, f.name)
		}
	}
	return strings.Join(have, "/")
}
