package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// OnInterrupt returns a context that the first interrupt (SIGINT or
// SIGTERM) cancels, so that the command stops at its next safe point, and
// says so on stderr with what a second interrupt does. After the first, the
// signal takes its default effect again: a second interrupt ends the
// process at once (every file the commands write is replaced atomically,
// so what was last written stays valid). The returned function releases
// the signal and must be called when the command ends.
func OnInterrupt(parent context.Context, stderr io.Writer, what string) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		defer signal.Stop(sigs)
		select {
		case <-sigs:
		case <-ctx.Done():
			return
		}
		signal.Stop(sigs)
		fmt.Fprintf(stderr, "\ninterrupt: %s (interrupt again to stop at once)\n", what)
		cancel()
	}()
	return ctx, cancel
}
