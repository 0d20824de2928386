package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The first interrupt cancels the context and says what the second does;
// after it, the signal has its default effect again: a second one ends
// the process.
func TestOnInterrupt(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("sends SIGINT")
	}
	if os.Getenv("CLI_INTERRUPT_CHILD") == "1" {
		var msg bytes.Buffer
		ctx, cancel := OnInterrupt(context.Background(), &msg, "stopping")
		defer cancel()
		syscall.Kill(os.Getpid(), syscall.SIGINT)
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond) // signal.Stop runs before cancel
		io.WriteString(os.Stdout, msg.String())
		syscall.Kill(os.Getpid(), syscall.SIGINT)
		time.Sleep(10 * time.Second)
		os.Exit(3)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestOnInterrupt$")
	cmd.Env = append(os.Environ(), "CLI_INTERRUPT_CHILD=1")
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("child: %v", err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("child ended with %v, want killed by the second SIGINT", err)
	}
	if !strings.Contains(out.String(), "interrupt: stopping (interrupt again to stop at once)") {
		t.Errorf("first interrupt's notice: %q", out.String())
	}
}
