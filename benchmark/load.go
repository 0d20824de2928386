package benchmark

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of /proc/stat's counters (USER_HZ, 100 on Linux).
const userHZ = 100

// cpuSample is the machine's CPU time from /proc/stat, in seconds: busy
// (user, nice, system, irq, softirq and steal, which a virtual machine's
// host takes) and total.
type cpuSample struct {
	busy, total float64
	ok          bool
}

// readCPU samples /proc/stat; ok is false where it is not available.
func readCPU() cpuSample {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuSample{}
	}
	return parseCPU(string(b))
}

// parseCPU reads the machine's CPU time from the first line of a
// /proc/stat text; ok is false where that is not its "cpu" line.
func parseCPU(stat string) cpuSample {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuSample{}
	}
	var v [8]float64
	for i := range v {
		x, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return cpuSample{}
		}
		v[i] = float64(x) / userHZ
	}
	// user nice system idle iowait irq softirq steal
	busy := v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	return cpuSample{busy: busy, total: busy + v[3] + v[4], ok: true}
}

// otherLoad returns the average number of cores that processes other than
// the child kept busy between two samples taken around it: the machine's
// busy time less the child's own CPU time, over the wall time. It returns
// -1 when unknown.
func otherLoad(before, after cpuSample, child *syscall.Rusage, wall time.Duration) float64 {
	if !before.ok || !after.ok || child == nil || wall <= 0 {
		return -1
	}
	own := time.Duration(child.Utime.Nano() + child.Stime.Nano()).Seconds()
	return max(0, after.busy-before.busy-own) / wall.Seconds()
}

// WaitQuiet waits until the machine's CPUs are at least 95% idle over one
// second, for at most limit; it reports whether they were (true also where
// /proc/stat cannot be read).
func WaitQuiet(limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		a := readCPU()
		time.Sleep(time.Second)
		b := readCPU()
		if !a.ok || !b.ok {
			return true // nothing to go by
		}
		if d := b.total - a.total; d > 0 && (b.busy-a.busy)/d <= 0.05 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
