// Package cli holds what the project's commands share: running a command
// with one-line errors and the conventional exit statuses, list flags,
// output directories and memory budgets.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Main runs a command and exits the process: status 0 on success or after
// -h, status 1 with one line "name: error" on standard error otherwise
// (never a panic trace for bad input).
func Main(name string, run func(args []string, stdout, stderr io.Writer) error) {
	os.Exit(Exit(name, run(os.Args[1:], os.Stdout, os.Stderr), os.Stderr))
}

// Exit reports err as Main does and returns the exit status.
func Exit(name string, err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, name+":", OneLine(err))
	return 1
}

// OneLine renders err on a single line.
func OneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ")), " ")
}

// Ints parses the value of flag flagName, a comma-separated list of
// integers of at least lo (empty entries are skipped; at least one value).
func Ints(flagName, s string, lo int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < lo {
			return nil, fmt.Errorf("%s: bad value %q in %q (want integers >= %d, comma-separated)", flagName, f, s, lo)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no values in %q", flagName, s)
	}
	return out, nil
}
