package benchmark

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// TerminalWriter returns f if it is a terminal (a character device) and nil
// otherwise, so that a progress bar is drawn for a person watching and not
// written into log files and pipes, where its carriage returns would be
// noise.
func TerminalWriter(f *os.File) io.Writer {
	if f == nil {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return f
}

// progressWidth is the width of the bar in characters.
const progressWidth = 30

// startProgress draws a progress bar of a run on w every 200 ms until the
// returned function is called, which erases it. With a nil w it does
// nothing.
func startProgress(w io.Writer, label string, cfg Config, start time.Time, workers []*worker) (stop func()) {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				fmt.Fprintf(w, "\r%s\r", strings.Repeat(" ", progressWidth+70))
				return
			case <-tick.C:
				var ops int64
				for _, wk := range workers {
					ops += wk.done.Load()
				}
				elapsed := time.Since(start)
				var frac float64
				var what string
				if cfg.T > 0 {
					frac = elapsed.Seconds() / time.Duration(cfg.T).Seconds()
					what = fmt.Sprintf("%.0fs/%.0fs", elapsed.Seconds(), time.Duration(cfg.T).Seconds())
				} else {
					frac = float64(ops) / float64(cfg.N)
					what = fmt.Sprintf("%d/%d ops", ops, cfg.N)
				}
				fmt.Fprintf(w, "\r%s", progressLine(label, cfg.Concurrency, frac, what, ops, elapsed))
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// progressLine renders one state of the bar, e.g.
// "paxos c=16 [#########.....] 60% 6s/10s 12034 ops/s".
func progressLine(label string, clients int, frac float64, what string, ops int64, elapsed time.Duration) string {
	frac = min(max(frac, 0), 1)
	n := int(frac * progressWidth)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(ops) / elapsed.Seconds()
	}
	if label != "" {
		label += " "
	}
	return fmt.Sprintf("%sc=%d [%s%s] %3.0f%% %s %.0f ops/s ", label, clients,
		strings.Repeat("#", n), strings.Repeat(".", progressWidth-n), 100*frac, what, rate)
}
