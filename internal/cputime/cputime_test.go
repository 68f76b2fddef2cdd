package cputime

import (
	"testing"
	"time"
)

// Burning CPU on this goroutine makes the process's CPU time grow: the
// reading is real, not a constant. (No timing assertion: on a loaded machine
// the loop may get little CPU, so it runs until the reading moves or a
// generous limit passes.)
func TestProcessGrows(t *testing.T) {
	before, ok := Process()
	if !ok {
		t.Skip("this platform does not report process CPU time")
	}
	x := 0
	for start := time.Now(); time.Since(start) < 20*time.Second; {
		for i := range 100000 {
			x ^= i
		}
		if now, _ := Process(); now-before >= 20*time.Millisecond {
			return
		}
	}
	after, _ := Process()
	t.Fatalf("CPU time grew by only %v in 20s of busy loop (x=%d)", after-before, x)
}

func TestCores(t *testing.T) {
	for _, c := range []struct {
		cpu, wall time.Duration
		want      float64
	}{
		{2 * time.Second, time.Second, 2},
		{500 * time.Millisecond, time.Second, 0.5},
		{time.Second, 0, 0},
	} {
		if got := Cores(c.cpu, c.wall); got != c.want {
			t.Errorf("Cores(%v, %v) = %v, want %v", c.cpu, c.wall, got, c.want)
		}
	}
}
