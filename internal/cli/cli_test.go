package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
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
