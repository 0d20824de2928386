package train

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress draws a one-line progress bar with loss, tokens/s and ETA on a
// terminal, or prints a line every 5% of the run to other writers (logs).
type progress struct {
	w          io.Writer
	tty        bool
	total      int
	first      int
	start      time.Time
	lastLine   time.Time
	lastPct    int
	lastRender string
}

func newProgress(w io.Writer, total, first int) *progress {
	p := &progress{w: w, total: total, first: first, start: time.Now(), lastPct: -1}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(step int, loss, tokPerSec float64) {
	if p.w == nil {
		return
	}
	done := step - p.first
	left := p.total - step
	eta := "?"
	if done > 0 {
		per := time.Since(p.start) / time.Duration(done)
		eta = (per * time.Duration(left)).Round(time.Second).String()
	}
	line := fmt.Sprintf("step %d/%d  loss %.4f  %s tok/s  ETA %s", step, p.total, loss, humanRate(tokPerSec), eta)
	if p.tty {
		if time.Since(p.lastLine) < 100*time.Millisecond && step != p.total {
			return
		}
		p.lastLine = time.Now()
		const width = 24
		fill := width * step / max(1, p.total)
		p.lastRender = fmt.Sprintf("\r[%s%s] %s", strings.Repeat("=", fill), strings.Repeat(" ", width-fill), line)
		fmt.Fprint(p.w, p.lastRender+"\x1b[K")
		return
	}
	pct := 100 * step / max(1, p.total)
	if pct/5 != p.lastPct/5 || step == p.total {
		p.lastPct = pct
		fmt.Fprintln(p.w, line)
	}
}

// note prints a message on its own line, redrawing the bar after it.
func (p *progress) note(msg string) {
	if p.w == nil {
		return
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K%s\n%s", msg, p.lastRender)
		return
	}
	fmt.Fprintln(p.w, msg)
}

func (p *progress) done() {
	if p.w != nil && p.tty {
		fmt.Fprintln(p.w)
	}
}

func humanRate(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}
