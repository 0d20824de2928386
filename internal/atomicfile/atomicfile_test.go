package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeString returns a write callback that writes s.
func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

// listDir returns the sorted names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteFile(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name     string
		old      *string // nil: no previous file
		write    func(io.Writer) error
		perm     os.FileMode
		wantErr  error
		wantData string
	}{
		{name: "create", write: writeString("hello"), perm: 0o644, wantData: "hello"},
		{name: "replace", old: ptr("old content"), write: writeString("new"), perm: 0o600, wantData: "new"},
		{name: "empty content", old: ptr("old"), write: writeString(""), perm: 0o644, wantData: ""},
		{name: "write fails after partial output", old: ptr("old content"), perm: 0o644, wantErr: errBoom, wantData: "old content",
			write: func(w io.Writer) error {
				io.WriteString(w, "partial")
				return errBoom
			}},
		{name: "write fails without previous file", perm: 0o644, wantErr: errBoom,
			write: func(io.Writer) error { return errBoom }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "model.bin")
			if tt.old != nil {
				if err := os.WriteFile(path, []byte(*tt.old), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := WriteFile(path, tt.perm, tt.write)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("WriteFile error = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the path", err)
			}
			// No temporary file may be left behind either way.
			wantNames := []string{"model.bin"}
			if tt.old == nil && tt.wantErr != nil {
				wantNames = nil
			}
			if got := listDir(t, dir); !slices.Equal(got, wantNames) {
				t.Errorf("directory holds %q, want %q", got, wantNames)
			}
			if tt.old == nil && tt.wantErr != nil {
				return
			}
			if got := readFile(t, path); got != tt.wantData {
				t.Errorf("content = %q, want %q", got, tt.wantData)
			}
			if tt.wantErr == nil {
				st, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != tt.perm {
					t.Errorf("mode = %v, want %v", st.Mode().Perm(), tt.perm)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestWriteFileMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "file")
	err := WriteFile(path, 0o644, writeString("x"))
	if err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("WriteFile into a missing directory: error = %v, want one line naming %s", err, path)
	}
}

// writeTree fills dir with the given files.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readTree returns the regular files under dir, keyed by slash path.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equalTree(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestReplaceDir(t *testing.T) {
	oldFiles := map[string]string{"config.json": `{"old":true}`, "model.safetensors": "old weights", "stale.txt": "gone after replace"}
	newFiles := map[string]string{"config.json": `{"new":true}`, "model.safetensors": "new weights", "sub/vocab.txt": "a\nb\n"}
	errFill := errors.New("fill failed")
	tests := []struct {
		name    string
		old     map[string]string // nil: dir does not exist
		fill    func(tmp string) error
		wantErr error
		want    map[string]string // nil: dir must not exist
	}{
		{name: "create", fill: fillWith(newFiles), want: newFiles},
		{name: "replace", old: oldFiles, fill: fillWith(newFiles), want: newFiles},
		{name: "fill fails", old: oldFiles, wantErr: errFill, want: oldFiles,
			fill: func(tmp string) error {
				if err := fillWith(newFiles)(tmp); err != nil {
					return err
				}
				return errFill
			}},
		{name: "fill fails without old dir", wantErr: errFill,
			fill: func(string) error { return errFill }},
		{name: "fill uses WriteFile", old: oldFiles, want: map[string]string{"w.bin": "via WriteFile"},
			fill: func(tmp string) error {
				return WriteFile(filepath.Join(tmp, "w.bin"), 0o644, writeString("via WriteFile"))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "ckpt")
			if tt.old != nil {
				writeTree(t, dir, tt.old)
			}
			err := ReplaceDir(dir, tt.fill)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ReplaceDir error = %v, want %v", err, tt.wantErr)
			}
			wantNames := []string{"ckpt"}
			if tt.want == nil {
				wantNames = nil
			}
			if got := listDir(t, parent); !slices.Equal(got, wantNames) {
				t.Errorf("parent holds %q, want %q (no temp or .prev left)", got, wantNames)
			}
			if tt.want == nil {
				return
			}
			if got := readTree(t, dir); !equalTree(got, tt.want) {
				t.Errorf("dir holds %v, want %v", got, tt.want)
			}
		})
	}
}

func fillWith(files map[string]string) func(string) error {
	return func(tmp string) error {
		for name, data := range files {
			p := filepath.Join(tmp, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestReplaceDirRejectsFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	if err := os.WriteFile(dir, []byte("a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	called := false
	err := ReplaceDir(dir, func(string) error { called = true; return nil })
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("error = %v, want one saying it is not a directory", err)
	}
	if called {
		t.Error("fill was called")
	}
	if got := readFile(t, dir); got != "a file" {
		t.Errorf("file content = %q, want it untouched", got)
	}
	if got := listDir(t, filepath.Dir(dir)); !slices.Equal(got, []string{"ckpt"}) {
		t.Errorf("parent holds %q, want only ckpt", got)
	}
}

func TestRecoverDir(t *testing.T) {
	oldFiles := map[string]string{"model.safetensors": "old", "config.json": "{}"}
	newFiles := map[string]string{"model.safetensors": "new", "config.json": "{}"}
	tests := []struct {
		name   string
		dir    map[string]string // state of dir after the simulated crash; nil: missing
		prev   map[string]string // state of dir.prev; nil: missing
		temps  []string          // leftover temporary siblings
		others []string          // unrelated siblings that must survive
		want   map[string]string // dir content after RecoverDir; nil: missing
	}{
		{name: "crash between the renames", prev: oldFiles, temps: []string{".ckpt.tmp-123"}, want: oldFiles},
		{name: "crash before removing prev", dir: newFiles, prev: oldFiles, want: newFiles},
		{name: "crash during fill", dir: oldFiles, temps: []string{".ckpt.tmp-1", ".ckpt.tmp-2"}, want: oldFiles},
		{name: "clean state", dir: oldFiles, others: []string{"ckpt2", ".ckpt2.tmp-9", "other"}, want: oldFiles},
		{name: "nothing there", others: []string{"x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "ckpt")
			if tt.dir != nil {
				writeTree(t, dir, tt.dir)
			}
			if tt.prev != nil {
				writeTree(t, dir+".prev", tt.prev)
			}
			for _, name := range tt.temps {
				writeTree(t, filepath.Join(parent, name), map[string]string{"model.safetensors": "partial"})
			}
			for _, name := range tt.others {
				writeTree(t, filepath.Join(parent, name), map[string]string{"f": "keep"})
			}
			if err := RecoverDir(dir); err != nil {
				t.Fatalf("RecoverDir: %v", err)
			}
			wantNames := slices.Clone(tt.others)
			if tt.want != nil {
				wantNames = append(wantNames, "ckpt")
			}
			slices.Sort(wantNames)
			if got := listDir(t, parent); !slices.Equal(got, wantNames) {
				t.Errorf("parent holds %q, want %q", got, wantNames)
			}
			if tt.want != nil {
				if got := readTree(t, dir); !equalTree(got, tt.want) {
					t.Errorf("dir holds %v, want %v", got, tt.want)
				}
			}
			// A second call finds nothing to do.
			if err := RecoverDir(dir); err != nil {
				t.Fatalf("second RecoverDir: %v", err)
			}
		})
	}
}

func TestReplaceDirAfterCrash(t *testing.T) {
	// ReplaceDir itself copes with the state a crash between the renames
	// leaves (dir missing, dir.prev present) and with a stale dir.prev.
	for _, withDir := range []bool{false, true} {
		parent := t.TempDir()
		dir := filepath.Join(parent, "ckpt")
		writeTree(t, dir+".prev", map[string]string{"a": "old"})
		if withDir {
			writeTree(t, dir, map[string]string{"a": "newer"})
		}
		if err := ReplaceDir(dir, fillWith(map[string]string{"a": "newest"})); err != nil {
			t.Fatalf("ReplaceDir (dir present: %v): %v", withDir, err)
		}
		if got := readFile(t, filepath.Join(dir, "a")); got != "newest" {
			t.Errorf("content = %q, want newest", got)
		}
		if got := listDir(t, parent); !slices.Equal(got, []string{"ckpt"}) {
			t.Errorf("parent holds %q, want only ckpt", got)
		}
	}
}

func TestRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model[1].bin") // glob metacharacters are literal
	for _, name := range []string{"model[1].bin", ".model[1].bin.tmp-1", ".model[1].bin.tmp-abc", ".model1.bin.tmp-2", "other"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveTemps(path); err != nil {
		t.Fatal(err)
	}
	want := []string{".model1.bin.tmp-2", "model[1].bin", "other"}
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Errorf("directory holds %q, want %q", got, want)
	}
	if err := RemoveTemps(filepath.Join(dir, "missing", "x")); err != nil {
		t.Errorf("RemoveTemps in a missing directory: %v", err)
	}
}
