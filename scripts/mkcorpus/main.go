// Command mkcorpus renders the Simplified-Chinese manual pages of Debian's
// manpages-zh package to plain text and writes them as the embedded default
// corpus, a gzip-compressed JSON-lines file with one {"id", "text"} object
// per page.
//
// Usage:
//
//	go run ./scripts/mkcorpus [-root /usr/share/man/zh_CN] [-out corpus/data/manpages-zh.jsonl.gz] [-jobs N] [-v]
//
// Only pages below the zh_CN tree are read. Symbolic links and pages that
// consist only of a ".so" redirect are skipped, since they would duplicate
// another document. Each page is rendered with
//
//	zcat page.gz | preconv -e utf-8 | groff -Tutf8 -mandoc -rLL=4000n -P-cbou
//
// under a fixed environment (LC_ALL=C.UTF-8, TZ=UTC, SOURCE_DATE_EPOCH=0) so
// that pages without a date do not pick up the current one. The rendering is
// then normalised (see normalize) and pages whose text is empty are dropped.
// Pages are written sorted by their path relative to the root, with the id
// being that path without the ".gz" suffix, for example "man1/ls.1".
//
// The output is deterministic: the gzip stream uses BestCompression, a zero
// modification time and no file name, so the same input gives a
// byte-identical file. The command prints the number of documents, the
// character counts, the share of Han characters and the SHA-256 of the
// uncompressed JSON lines.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// renderScript is the shell pipeline that renders one page; the page path is
// passed as $1 so that it is never interpreted by the shell.
const renderScript = `set -o pipefail; zcat -- "$1" | preconv -e utf-8 | groff -Tutf8 -mandoc -rLL=4000n -P-cbou`

// renderEnv is the environment of the rendering pipeline, fixed so that the
// output does not depend on the caller's locale, time zone or clock.
var renderEnv = []string{
	"PATH=/usr/local/bin:/usr/bin:/bin",
	"LC_ALL=C.UTF-8",
	"TZ=UTC",
	"SOURCE_DATE_EPOCH=0",
}

func main() {
	root := flag.String("root", "/usr/share/man/zh_CN", "directory of the zh_CN manual pages")
	out := flag.String("out", "corpus/data/manpages-zh.jsonl.gz", "output file (gzip-compressed JSON lines)")
	jobs := flag.Int("jobs", 4, "number of pages rendered in parallel")
	verbose := flag.Bool("v", false, "list skipped files, and the header and footer lines dropped from each page (on standard error)")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "mkcorpus: unexpected arguments:", strings.Join(flag.Args(), " "))
		os.Exit(2)
	}
	if err := run(context.Background(), *root, *out, *jobs, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "mkcorpus:", err)
		os.Exit(1)
	}
}

// document is one line of the output.
type document struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// page is a manual page found below the root.
type page struct {
	path string // absolute or root-joined path of the .gz file
	id   string // path relative to the root without ".gz"
}

// result is the outcome of rendering one page.
type result struct {
	text    string
	header  string // dropped page header, runs of spaces squeezed
	footer  string // dropped page footer, runs of spaces squeezed
	skipped string // reason the page was skipped, if any
	err     error
}

func run(ctx context.Context, root, out string, jobs int, verbose bool) error {
	if jobs < 1 {
		jobs = 1
	}
	pages, skipped, err := findPages(root)
	if err != nil {
		return err
	}
	if len(pages) == 0 {
		return fmt.Errorf("%s: no manual pages found (is manpages-zh installed?)", root)
	}

	results := make([]result, len(pages))
	var wg sync.WaitGroup
	next := make(chan int)
	for range jobs {
		wg.Go(func() {
			for i := range next {
				results[i] = renderPage(ctx, pages[i])
			}
		})
	}
	for i := range pages {
		next <- i
	}
	close(next)
	wg.Wait()

	var jsonl bytes.Buffer
	enc := json.NewEncoder(&jsonl)
	enc.SetEscapeHTML(false)
	var st stats
	st.skipped = skipped
	for i, p := range pages {
		r := results[i]
		if r.err != nil {
			return fmt.Errorf("page %s: %w", p.id, r.err)
		}
		if r.skipped != "" {
			st.skipped = append(st.skipped, p.id+": "+r.skipped)
			continue
		}
		if verbose {
			fmt.Fprintf(os.Stderr, "%s\theader: %s\tfooter: %s\n", p.id, r.header, r.footer)
		}
		if err := enc.Encode(document{ID: p.id, Text: r.text}); err != nil {
			return fmt.Errorf("page %s: %w", p.id, err)
		}
		st.add(p.id, r.text)
	}
	if st.docs == 0 {
		return fmt.Errorf("%s: every page rendered empty", root)
	}

	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return err
	}
	// The zero Header (no name, zero ModTime) keeps the output reproducible.
	if _, err := zw.Write(jsonl.Bytes()); err != nil {
		return fmt.Errorf("compress: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress: %w", err)
	}
	if err := writeFileAtomic(out, gz.Bytes()); err != nil {
		return err
	}
	sum := sha256.Sum256(jsonl.Bytes())
	st.print(os.Stdout, verbose, out, gz.Len(), jsonl.Len(), hex.EncodeToString(sum[:]))
	return nil
}

// findPages lists the regular files below root in path order. Symbolic links
// are reported as skipped.
func findPages(root string) (pages []page, skipped []string, err error) {
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			skipped = append(skipped, rel+": symbolic link")
			return nil
		case !d.Type().IsRegular():
			skipped = append(skipped, rel+": not a regular file")
			return nil
		case !strings.HasSuffix(rel, ".gz"):
			skipped = append(skipped, rel+": not gzip-compressed")
			return nil
		}
		pages = append(pages, page{path: path, id: strings.TrimSuffix(rel, ".gz")})
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("scan %s: %w", root, err)
	}
	sort.Slice(pages, func(i, j int) bool { return pages[i].id < pages[j].id })
	return pages, skipped, nil
}

// renderPage renders and normalises one page.
func renderPage(ctx context.Context, p page) result {
	src, err := readGzip(p.path)
	if err != nil {
		return result{err: err}
	}
	if target, ok := soRedirect(src); ok {
		return result{skipped: ".so redirect to " + target}
	}
	cmd := exec.CommandContext(ctx, "bash", "-c", renderScript, "bash", p.path)
	cmd.Env = renderEnv
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return result{err: fmt.Errorf("render: %w: %s", err, firstLine(msg))}
		}
		return result{err: fmt.Errorf("render: %w", err)}
	}
	if !utf8.Valid(stdout.Bytes()) {
		return result{err: errors.New("render: output is not valid UTF-8")}
	}
	text, header, footer := normalize(stdout.String())
	if text == "" {
		return result{skipped: "empty rendering"}
	}
	return result{text: text, header: squeeze(header), footer: squeeze(footer)}
}

func readGzip(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// soRedirect reports whether a page source consists of nothing but a ".so"
// request (comments and blank lines aside), and returns its target.
func soRedirect(src []byte) (target string, ok bool) {
	for line := range strings.SplitSeq(string(src), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "", line == ".", strings.HasPrefix(line, `.\"`), strings.HasPrefix(line, `'\"`):
			continue
		case strings.HasPrefix(line, ".so ") && target == "":
			target = strings.TrimSpace(strings.TrimPrefix(line, ".so "))
		default:
			return "", false
		}
	}
	return target, target != ""
}

// squeeze trims s and replaces each run of spaces in it by " | ", for the
// verbose listing of dropped lines.
func squeeze(s string) string {
	return strings.Join(titleFields(s), " | ")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

var (
	// wideRun matches the space runs that only the 4000-column line length
	// produces: justification of paragraphs longer than one output line and
	// right-margin rules of the Tcl/Tk macros. No page contains alignment
	// that wide.
	wideRun = regexp.MustCompile(` {100,}`)
	// fieldSep separates the parts of a groff title line.
	fieldSep = regexp.MustCompile(` {3,}`)
	// manTitle matches the page title of a title line, such as "LS(1)" or
	// "ALTER TABLE(7)".
	manTitle = regexp.MustCompile(`^\S.*\([0-9][0-9a-zA-Z]*\)$`)
	// blankRuns matches three or more newlines.
	blankRuns = regexp.MustCompile(`\n{3,}`)
)

// normalize turns the output of groff into the text of a document:
//
//   - the page header (the first non-blank line, "TITLE(n)  centre  TITLE(n)")
//     and the page footer (the last non-blank line, "source  date  TITLE(n)",
//     or "os  date  os" for mdoc pages) are dropped: they repeat the title and
//     carry dates and versions, and nothing else;
//   - runs of 100 or more spaces, produced by justification to the
//     4000-column line length, become one space;
//   - trailing spaces are stripped from each line, runs of three or more
//     newlines collapse to two, and the text is trimmed.
//
// It also returns the header and footer it dropped, if any.
func normalize(s string) (text, header, footer string) {
	lines := strings.Split(s, "\n")
	first, last := -1, -1
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return "", "", ""
	}
	title, isHeader := headerTitle(lines[first])
	if isHeader {
		header = lines[first]
		lines[first] = ""
	}
	if last != first && isFooter(lines[last], title) {
		footer = lines[last]
		lines[last] = ""
	}
	for i, l := range lines {
		l = wideRun.ReplaceAllString(l, " ")
		lines[i] = strings.TrimRight(l, " \t")
	}
	s = strings.Join(lines, "\n")
	s = blankRuns.ReplaceAllString(s, "\n\n")
	return strings.TrimSpace(s), header, footer
}

// titleFields splits a header or footer line into its left, centre and
// right parts.
func titleFields(line string) []string {
	var fields []string
	for _, f := range fieldSep.Split(strings.TrimSpace(line), -1) {
		if f != "" {
			fields = append(fields, f)
		}
	}
	return fields
}

// headerTitle reports whether line is a page header: two or three parts
// whose first and last parts are the same page title.
func headerTitle(line string) (title string, ok bool) {
	f := titleFields(line)
	if len(f) < 2 || len(f) > 3 || f[0] != f[len(f)-1] {
		return "", false
	}
	return f[0], true
}

// isFooter reports whether line is a page footer: at most three parts,
// separated by wide gaps, that end with the page title (man) or begin and
// end with the same operating-system name (mdoc).
//
// A page without a header (one whose source sets no title before its text)
// may still end in a footer; it is recognised by its page title and the
// wide gap before it.
func isFooter(line, title string) bool {
	if !fieldSep.MatchString(line) {
		return false
	}
	f := titleFields(line)
	if len(f) == 0 || len(f) > 3 {
		return false
	}
	end := f[len(f)-1]
	if title == "" {
		return manTitle.MatchString(end) && wideRun.MatchString(line)
	}
	return end == title || (len(f) == 3 && f[0] == end)
}

// stats accumulates the corpus statistics printed at the end.
type stats struct {
	docs, chars, nonSpace, han, long int
	skipped                          []string
	firstID, lastID                  string
}

// longChars is the length, in characters, from which a document counts as
// long enough for the length-extrapolation test set.
const longChars = 4096

func (st *stats) add(id, text string) {
	if st.docs == 0 {
		st.firstID = id
	}
	st.lastID = id
	st.docs++
	n := 0
	for _, r := range text {
		n++
		if !unicode.IsSpace(r) {
			st.nonSpace++
		}
		if unicode.Is(unicode.Han, r) {
			st.han++
		}
	}
	st.chars += n
	if n >= longChars {
		st.long++
	}
}

func (st *stats) print(w io.Writer, verbose bool, out string, gzSize, size int, sum string) {
	if verbose {
		for _, s := range st.skipped {
			fmt.Fprintln(w, "skipped", s)
		}
	}
	kinds := map[string]int{}
	for _, s := range st.skipped {
		_, reason, _ := strings.Cut(s, ": ")
		reason, _, _ = strings.Cut(reason, " to ") // ".so redirect to X"
		kinds[reason]++
	}
	reasons := make([]string, 0, len(kinds))
	for r, n := range kinds {
		reasons = append(reasons, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(reasons)
	fmt.Fprintf(w, "skipped: %d files (%s)\n", len(st.skipped), strings.Join(reasons, ", "))
	fmt.Fprintf(w, "wrote %s (%d bytes compressed, %d bytes uncompressed)\n", out, gzSize, size)
	fmt.Fprintf(w, "documents: %d (first %s, last %s)\n", st.docs, st.firstID, st.lastID)
	fmt.Fprintf(w, "characters: %d (%d non-space)\n", st.chars, st.nonSpace)
	fmt.Fprintf(w, "documents with %d+ characters: %d\n", longChars, st.long)
	fmt.Fprintf(w, "Han characters: %d (%.1f%% of all, %.1f%% of non-space)\n",
		st.han, 100*float64(st.han)/float64(st.chars), 100*float64(st.han)/float64(st.nonSpace))
	fmt.Fprintf(w, "sha256 (uncompressed JSONL): %s\n", sum)
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, which is synced and renamed over path; the directory is synced
// afterwards.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write %s: sync directory: %w", path, err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("write %s: sync directory: %w", path, err)
	}
	return nil
}
