package report

import (
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/infoscale/gaualpha/internal/host"
)

// memTotal is the machine's memory in GiB, or "unknown".
func memTotal() string {
	b, err := host.MemTotal()
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.0f GiB", float64(b)/(1<<30))
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
