package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExit(t *testing.T) {
	var b bytes.Buffer
	if got := Exit("tool", nil, &b); got != 0 || b.Len() != 0 {
		t.Errorf("success: status %d, output %q", got, b.String())
	}
	if got := Exit("tool", fmt.Errorf("wrapped: %w", flag.ErrHelp), &b); got != 0 || b.Len() != 0 {
		t.Errorf("-h: status %d, output %q", got, b.String())
	}
	if got := Exit("tool", errors.New("bad\n  input\tline"), &b); got != 1 || b.String() != "tool: bad input line\n" {
		t.Errorf("error: status %d, output %q", got, b.String())
	}
}

func TestCheckOutDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ dir, want string }{
		{filepath.Join(dir, "new", "sub"), ""},
		{dir, ""},
		{file, "-out " + file + " is a file, not a directory"},
		{filepath.Join(file, "sub"), file + " is a file, not a directory"},
	} {
		err := CheckOutDir("-out", c.dir)
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.dir, err, c.want)
		}
	}
}

func TestInts(t *testing.T) {
	if got, err := Ints("-ws", "4, 1,,16", 0); err != nil || fmt.Sprint(got) != "[4 1 16]" {
		t.Errorf("got %v, %v", got, err)
	}
	for _, c := range []struct{ s, want string }{
		{"2,x", `-ws: bad value "x" in "2,x" (want integers >= 2, comma-separated)`},
		{"1", `-ws: bad value "1"`},
		{" , ", `-ws: no values in " , "`},
	} {
		if _, err := Ints("-ws", c.s, 2); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.s, err, c.want)
		}
	}
}
