package report

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// cpuModel names the CPU (/proc/cpuinfo's model name).
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH + " CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			if i := strings.Index(line, ":"); i >= 0 {
				return strings.TrimSpace(line[i+1:])
			}
		}
	}
	return runtime.GOARCH + " CPU"
}

// memTotal is the machine's memory (/proc/meminfo's MemTotal) in GiB.
func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "MemTotal:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return fmt.Sprintf("%.0f GiB", kb/(1<<20))
			}
		}
	}
	return "unknown"
}

// rulesCommit names the commit of docs/analysis.md that the report's rules
// come from (git's last commit of the file, and whether the checkout
// changes it), or says that it is not known.
func rulesCommit() string {
	out, err := exec.Command("git", "log", "-1", "--format=%h, %cs", "--", ":/docs/analysis.md").Output()
	c := strings.TrimSpace(string(out))
	if err != nil || c == "" {
		return "the commit of the rules is not known: no git checkout"
	}
	if st, err := exec.Command("git", "status", "--porcelain", "--", ":/docs/analysis.md").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		return "rules of commit " + c + " with uncommitted changes"
	}
	return "rules of commit " + c
}

// dur renders seconds as a rounded duration.
func dur(sec float64) string {
	return time.Duration(sec * float64(time.Second)).Round(time.Second).String()
}
