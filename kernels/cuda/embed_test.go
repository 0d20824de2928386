package cuda

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// image is one entry of a fatbin container.
type image struct {
	kind string // "elf" or "ptx"
	arch int    // compute capability × 10
}

// fatbinImages lists the entries of a fatbin container (the layout
// fatbinary writes: a 16-byte header, magic 0xBA55ED50, version 1, then
// entries of a header — kind, header size, payload size, ..., architecture
// at byte 28 — and their payload, up to the size the header gives).
func fatbinImages(b []byte) ([]image, error) {
	le := binary.LittleEndian
	if len(b) < 16 || le.Uint32(b) != 0xBA55ED50 || le.Uint16(b[4:]) != 1 {
		return nil, fmt.Errorf("not a fatbin (no 0xBA55ED50 version 1 header)")
	}
	hs := int(le.Uint16(b[6:]))
	end := uint64(hs) + le.Uint64(b[8:])
	if end != uint64(len(b)) {
		return nil, fmt.Errorf("header says %d bytes, the file has %d", end, len(b))
	}
	var out []image
	for off := uint64(hs); off < end; {
		if end-off < 32 {
			return nil, fmt.Errorf("truncated entry at byte %d", off)
		}
		e := b[off:]
		var kind string
		switch le.Uint16(e) {
		case 1:
			kind = "ptx"
		case 2:
			kind = "elf"
		default:
			return nil, fmt.Errorf("entry at byte %d: unknown kind %d", off, le.Uint16(e))
		}
		out = append(out, image{kind, int(le.Uint32(e[28:]))})
		next := off + uint64(le.Uint32(e[4:])) + le.Uint64(e[8:])
		if next <= off || next > end {
			return nil, fmt.Errorf("entry at byte %d overruns the container", off)
		}
		off = next
	}
	return out, nil
}

// TestFatbins checks that every module has a fatbin holding SASS for the
// architectures of fatbinArchs and its PTX, and nothing else.
func TestFatbins(t *testing.T) {
	sass, ptx := fatbinArchs()
	var want []image
	for _, a := range sass {
		want = append(want, image{"elf", a})
	}
	want = append(want, image{"ptx", ptx})
	for _, m := range Modules {
		b, err := Fatbin(m)
		if err != nil {
			t.Error(err)
			continue
		}
		got, err := fatbinImages(b)
		if err != nil {
			t.Errorf("%s: %v", m, err)
			continue
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: fatbin holds %v, want %v", m, got, want)
		}
	}
}

func TestFatbinImagesRejects(t *testing.T) {
	good, err := Fatbin("xent")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"PTX text", []byte(".version 7.8\n.target sm_90\n")},
		{"truncated", good[:len(good)-8]},
		{"bad kind", func() []byte {
			b := bytes.Clone(good)
			b[16] = 9
			return b
		}()},
	}
	for _, c := range cases {
		if _, err := fatbinImages(c.b); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}

// TestFatbinSums checks fatbin/SHA256SUMS, which scripts/ptx-check.sh
// writes when it assembles the fatbins from the PTX: the PTX and fatbins
// are the ones of that run (PTX regenerated without its fatbins fails
// here), and every PTX and fatbin file is listed.
func TestFatbinSums(t *testing.T) {
	f, err := os.Open(filepath.Join("fatbin", "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS: bad line %q", sc.Text())
		}
		listed[name] = true
		b, err := os.ReadFile(filepath.FromSlash(name))
		if err != nil {
			t.Errorf("SHA256SUMS lists %s: %v", name, err)
			continue
		}
		h := sha256.Sum256(b)
		if hex.EncodeToString(h[:]) != sum {
			t.Errorf("%s changed since scripts/ptx-check.sh assembled the fatbins: run it again", name)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, pat := range []string{"ptx/*.ptx", "fatbin/*.fatbin"} {
		files, err := filepath.Glob(filepath.FromSlash(pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range files {
			if name := filepath.ToSlash(p); !listed[name] {
				t.Errorf("%s is not in fatbin/SHA256SUMS: run scripts/ptx-check.sh", name)
			}
		}
	}
}

// fatbinArchs returns the architectures (compute capability × 10) a fatbin
// holds SASS for, and the virtual architecture of the PTX it holds for the
// driver to JIT-compile on any other (newer) device: what Makefile builds.
func fatbinArchs() (sass []int, ptx int) { return []int{80, 90}, 90 }
