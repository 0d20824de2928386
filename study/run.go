package study

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/infoscale/gaualpha/internal/host"
)

// Host is the machine a part ran on, as the run records it.
type Host struct {
	CPU        string  `json:"cpu"`
	CPUs       int     `json:"cpus"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	MemoryGiB  float64 `json:"memory_gib"`
	OS         string  `json:"os"`
	Arch       string  `json:"arch"`
	Go         string  `json:"go"`
}

// CurrentHost describes this machine (the memory 0 where it is not known).
func CurrentHost() Host {
	h := Host{CPU: host.CPUModel(), CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		OS: runtime.GOOS, Arch: runtime.GOARCH, Go: runtime.Version()}
	if b, err := host.MemTotal(); err == nil {
		h.MemoryGiB = float64(b) / (1 << 30)
	}
	return h
}

// String is the host as the report writes it.
func (h Host) String() string {
	mem := "memory unknown"
	if h.MemoryGiB > 0 {
		mem = fmt.Sprintf("%.0f GiB memory", h.MemoryGiB)
	}
	return fmt.Sprintf("%s; %d logical CPUs (GOMAXPROCS %d); %s; %s/%s; %s", h.CPU, h.CPUs, h.GOMAXPROCS, mem, h.OS, h.Arch, h.Go)
}

// PartRecord is a finished part as the run records it (logs/parts.json):
// the command that ran, the fingerprint of the code and options that made
// its outputs, the digest of the weights it wrote (training parts), when,
// how long and where it ran.
type PartRecord struct {
	Command     string  `json:"command"`
	Fingerprint string  `json:"fingerprint"`
	Digest      string  `json:"digest,omitempty"`
	Seconds     float64 `json:"seconds"`
	Finished    string  `json:"finished"`
	Host        Host    `json:"host"`
}

// FinishedAt is the record's finishing time (the zero time when unreadable).
func (r PartRecord) FinishedAt() time.Time {
	t, _ := time.Parse(time.RFC3339, r.Finished)
	return t
}

// Records is logs/parts.json: the study's profile and rule version, and
// the record of every finished part by name. It is committed with the
// outputs, so that a run continues on another machine from what was
// committed: a part whose record's fingerprint is the one it would have now
// does not run again.
type Records struct {
	Profile string                `json:"profile"`
	Rules   int                   `json:"rules"`
	Parts   map[string]PartRecord `json:"parts"`
}

// RecordsFile is the path of a study's records.
func RecordsFile(out string) string { return filepath.Join(out, "logs", "parts.json") }

// ReadRecords reads logs/parts.json; ok is false when the file does not
// exist (a study run before the records were kept, or not run yet). An
// unreadable file is an error naming it.
func ReadRecords(out string) (r Records, ok bool, err error) {
	path := RecordsFile(out)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Records{Parts: map[string]PartRecord{}}, false, nil
	}
	if err != nil {
		return r, false, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, false, fmt.Errorf("%s: %w", path, err)
	}
	if r.Parts == nil {
		r.Parts = map[string]PartRecord{}
	}
	return r, true, nil
}

// WriteRecords writes logs/parts.json.
func WriteRecords(out string, r Records) error { return writeJSON(RecordsFile(out), r) }

// Span returns the earliest and the latest finishing time of the records
// and the distinct hosts, in the order of their first finished part.
func (r Records) Span() (first, last time.Time, hosts []Host) {
	names := make([]string, 0, len(r.Parts))
	for n := range r.Parts {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		return r.Parts[a].FinishedAt().Compare(r.Parts[b].FinishedAt())
	})
	for i, n := range names {
		rec := r.Parts[n]
		t := rec.FinishedAt()
		if i == 0 {
			first = t
		}
		last = t
		if !slices.Contains(hosts, rec.Host) {
			hosts = append(hosts, rec.Host)
		}
	}
	return first, last, hosts
}

// Dep is what a part's fingerprint takes from a part whose outputs it
// reads: that part's fingerprint and the digest of its weights.
type Dep struct {
	Name, Fingerprint, Digest string
}

// Fingerprint is the fingerprint of a part's outputs: SHA-256 over the
// digest of the tool that runs it (its binary), its arguments, and the
// fingerprints and weight digests of the parts it reads. A change of the
// code (the tool's binary), of an option, or of an input's weights changes
// it.
func Fingerprint(toolDigest string, args []string, deps []Dep) string {
	h := sha256.New()
	fmt.Fprintf(h, "tool %s\n", toolDigest)
	for _, a := range args {
		fmt.Fprintf(h, "arg %q\n", a)
	}
	deps = slices.Clone(deps)
	slices.SortFunc(deps, func(a, b Dep) int { return strings.Compare(a.Name, b.Name) })
	for _, d := range deps {
		fmt.Fprintf(h, "dep %q %s %s\n", d.Name, d.Fingerprint, d.Digest)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// FileDigest is the SHA-256 of the files, in order, each with its name
// relative to base: the digest of a part's weights, or of a tool.
func FileDigest(base string, files ...string) (string, error) {
	h := sha256.New()
	for _, f := range files {
		rel, err := filepath.Rel(base, f)
		if err != nil {
			rel = f
		}
		fmt.Fprintf(h, "file %q\n", filepath.ToSlash(rel))
		r, err := os.Open(f)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, r)
		r.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
