package main

import (
	"os"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/client"
)

// Nodes in this process count as this process; nodes sharing another
// process are one entry; a restarted or newly seen node is left out.
func TestCPUUsage(t *testing.T) {
	me := os.Getpid()
	t0 := time.Unix(100, 0)
	before := cpuSample{at: t0, self: time.Second, nodes: map[string]client.Status{
		"1.1": {PID: me, CPUSeconds: 1},
		"1.2": {PID: me + 1, CPUSeconds: 10},
		"1.3": {PID: me + 2, CPUSeconds: 20},
		"2.1": {PID: me + 3, CPUSeconds: 5},
	}}
	after := cpuSample{at: t0.Add(2 * time.Second), self: 3 * time.Second, nodes: map[string]client.Status{
		"1.1": {PID: me, CPUSeconds: 3},
		"1.2": {PID: me + 1, CPUSeconds: 11},
		"1.3": {PID: me + 2, CPUSeconds: 20.5},
		"2.1": {PID: me + 9, CPUSeconds: 1}, // restarted
		"2.2": {PID: me + 4, CPUSeconds: 7}, // not seen before
	}}
	u := before.usage(after)
	if u.total() != 3500*time.Millisecond {
		t.Errorf("total %v, want 3.5s (this process 2s, 1.2 1s, 1.3 0.5s)", u.total())
	}
	if got := u.cores(); got != 1.75 {
		t.Errorf("cores %v, want 1.75", got)
	}
	if got := u.perOp(7); got != 500*time.Millisecond {
		t.Errorf("per op %v, want 500ms", got)
	}
	want := "cpu: 1.75 cores: this process 1.00 (clients and nodes 1.1), 1.2 0.50, 1.3 0.25"
	if got := u.String(); got != want {
		t.Errorf("String:\n got %q\nwant %q", got, want)
	}
}
