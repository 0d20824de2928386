package atomicfile

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

// The kill test re-executes the test binary as a child that rewrites a
// directory (ReplaceDir) and a file (WriteFile) in a loop, SIGKILLs it at
// random moments, and checks each time that complete content is there.

const killChildEnv = "ATOMICFILE_KILL_CHILD_DIR"

// genSize is the length of a generation's content; it differs between
// generations so that a torn or mixed file shows up as a wrong length too.
func genSize(gen uint64, salt byte) int {
	return 1<<20 + int(gen%97)*4099 + int(salt)*13
}

// genContent returns the content of one file of generation gen: the
// generation number, then a pattern that depends on gen and salt.
func genContent(gen uint64, salt byte) []byte {
	b := make([]byte, genSize(gen, salt))
	binary.LittleEndian.PutUint64(b, gen)
	for i := 8; i < len(b); i++ {
		b[i] = byte(i*31) ^ byte(gen*7) ^ salt
	}
	return b
}

// checkContent returns the generation stored in b, or an error if b is not a
// complete file of some generation.
func checkContent(b []byte, salt byte) (uint64, error) {
	if len(b) < 8 {
		return 0, fmt.Errorf("file is %d bytes, too short for a generation number", len(b))
	}
	gen := binary.LittleEndian.Uint64(b)
	if want := genSize(gen, salt); len(b) != want {
		return 0, fmt.Errorf("generation %d file is %d bytes, want %d", gen, len(b), want)
	}
	for i := 8; i < len(b); i++ {
		if b[i] != byte(i*31)^byte(gen*7)^salt {
			return 0, fmt.Errorf("generation %d file differs at byte %d", gen, i)
		}
	}
	return gen, nil
}

// layout names the paths the child rewrites under root.
type layout struct{ root, dir, file string }

func newLayout(root string) layout {
	return layout{root: root, dir: filepath.Join(root, "ckpt"), file: filepath.Join(root, "single.bin")}
}

// writeGen writes generation gen of both the directory and the file.
func (l layout) writeGen(gen uint64) error {
	err := ReplaceDir(l.dir, func(tmp string) error {
		for _, f := range []struct {
			name string
			salt byte
		}{{"a.bin", 1}, {"b.bin", 2}} {
			if err := os.WriteFile(filepath.Join(tmp, f.name), genContent(gen, f.salt), 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return WriteFile(l.file, 0o644, func(w io.Writer) error {
		_, err := w.Write(genContent(gen, 3))
		return err
	})
}

// check recovers and verifies the state on disk and returns the directory's
// and the file's generations.
func (l layout) check() (dirGen, fileGen uint64, err error) {
	if err := RecoverDir(l.dir); err != nil {
		return 0, 0, err
	}
	if err := RemoveTemps(l.file); err != nil {
		return 0, 0, err
	}
	var gens [3]uint64
	for i, p := range []string{filepath.Join(l.dir, "a.bin"), filepath.Join(l.dir, "b.bin"), l.file} {
		b, err := os.ReadFile(p)
		if err != nil {
			return 0, 0, err
		}
		if gens[i], err = checkContent(b, byte(i+1)); err != nil {
			return 0, 0, fmt.Errorf("%s: %v", p, err)
		}
	}
	if gens[0] != gens[1] {
		return 0, 0, fmt.Errorf("directory mixes generations: a.bin is %d, b.bin is %d", gens[0], gens[1])
	}
	return gens[0], gens[2], nil
}

// TestKillHelperProcess is the child side of TestKill; it does nothing in a
// normal test run.
func TestKillHelperProcess(t *testing.T) {
	root := os.Getenv(killChildEnv)
	if root == "" {
		return
	}
	l := newLayout(root)
	dirGen, fileGen, err := l.check()
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: bad state at start:", err)
		os.Exit(2)
	}
	gen := max(dirGen, fileGen) + 1
	fmt.Println("ready")
	deadline := time.Now().Add(20 * time.Second) // never outlive a lost parent
	for time.Now().Before(deadline) {
		if err := l.writeGen(gen); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		fmt.Println("done", gen)
		gen++
	}
	os.Exit(0)
}

func TestKill(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("needs SIGKILL and process re-execution")
	}
	if testing.Short() {
		t.Skip("kill test skipped in -short mode")
	}
	root := t.TempDir()
	l := newLayout(root)
	if err := l.writeGen(0); err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	const kills = 6
	var lastDir, lastFile uint64
	start := time.Now()
	for i := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelperProcess$")
		cmd.Env = append(os.Environ(), killChildEnv+"="+root)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 16)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		if line := <-lines; line != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child did not start: first line %q", line)
		}
		if i == kills-1 && lastDir == 0 && lastFile == 0 {
			// On a slow disk no generation may have completed yet; make sure
			// at least one does so that the test checks progress.
			select {
			case <-lines:
			case <-time.After(10 * time.Second):
				t.Log("no generation completed within 10s")
			}
		}
		time.Sleep(time.Duration(rng.Int64N(int64(250 * time.Millisecond))))
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		for range lines { // drain until the pipe closes
		}
		cmd.Wait()

		dirGen, fileGen, err := l.check()
		if err != nil {
			t.Fatalf("after kill %d: %v", i+1, err)
		}
		if dirGen < lastDir || fileGen < lastFile {
			t.Fatalf("after kill %d: generations went back from (%d, %d) to (%d, %d)", i+1, lastDir, lastFile, dirGen, fileGen)
		}
		lastDir, lastFile = dirGen, fileGen
		entries, err := os.ReadDir(root)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if want := []string{"ckpt", "single.bin"}; !slices.Equal(names, want) {
			t.Fatalf("after kill %d and recovery the directory holds %q, want %q", i+1, names, want)
		}
	}
	t.Logf("%d kills in %v; reached directory generation %d, file generation %d", kills, time.Since(start), lastDir, lastFile)
	if lastDir == 0 && lastFile == 0 {
		t.Error("the child never completed a generation; the test proved nothing")
	}
}
