package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/internal/clustertest"
	"github.com/ailidani/paxi-style/paxi"
)

func TestHelpExplainsEveryCommand(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"-h"}, &out, &out); code != 0 {
		t.Fatalf("paxi -h exited %d", code)
	}
	for name := range commands {
		if !strings.Contains(out.String(), name) {
			t.Errorf("paxi -h does not list %q", name)
		}
		var sub bytes.Buffer
		if code := run([]string{name, "-h"}, &sub, &sub); code != 0 {
			t.Errorf("paxi %s -h exited %d", name, code)
		}
		if !strings.Contains(sub.String(), "Usage: paxi "+name) {
			t.Errorf("paxi %s -h: %q", name, sub.String())
		}
	}
}

func TestBadInvocations(t *testing.T) {
	tests := [][]string{
		{"nosuch"},
		{"local", "-nosuchflag"},
		{"server"},                       // no -id
		{"server", "-id", "x"},           // bad id
		{"local", "-W", "2", "-T", "1s"}, // bad write ratio
		{"local", "-protocol", "nosuch"},
		{"bench", "-config", "/nonexistent.json"},
		{"local", "-fz", "1"},                                // a wpaxos setting for paxos
		{"local", "-protocol", "wpaxos", "-fz", "1"},         // fz must be below the number of zones
		{"local", "-protocol", "wpaxos", "-policy", "bogus"}, // unknown policy
	}
	for _, args := range tests {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code == 0 {
			t.Errorf("paxi %v succeeded", args)
		} else if errb.Len() == 0 {
			t.Errorf("paxi %v failed without a message", args)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// localPorts returns the -port and -http-port flags of paxi local for n
// nodes whose transport, REST and native (REST + paxi.NativePortOffset)
// ports are all free now: node i listens on port+i, so single free ports
// are not enough, and a native port in the ephemeral range may be taken
// by another test's connection.
func localPorts(t *testing.T, n int) []string {
	t.Helper()
	var taken []string
	port := freeRun(t, n, &taken)
	for range 100 {
		http := freeRun(t, n, &taken)
		if allFree(http+paxi.NativePortOffset, n) {
			return []string{"-port", itoa(port), "-http-port", itoa(http)}
		}
	}
	t.Fatalf("no free ports for %d nodes' REST and native servers", n)
	return nil
}

// allFree reports whether the n ports from base can be listened on now.
func allFree(base, n int) bool {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:"+itoa(base+i))
		if err != nil {
			return false
		}
		lns = append(lns, l)
	}
	return true
}

// The README's main command, shortened: a 3-node cluster in one process and
// a benchmark that prints a result row.
func TestLocalRunsBenchmark(t *testing.T) {
	var out, errb bytes.Buffer
	args := append([]string{"local", "-n", "3", "-N", "300", "-c", "4"},
		localPorts(t, 3)...)
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("paxi local exited %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "ops/s") || !strings.Contains(out.String(), "paxos") {
		t.Fatalf("no result table:\n%s", out.String())
	}
	t.Log(out.String())
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// Three real node processes; the leader's process is killed with SIGKILL
// mid-load. The survivors elect a new leader and keep serving, and every
// acknowledged write is in both survivors' histories, in the same order.
func TestProcessesSurviveLeaderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "paxi")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := paxi.DefaultConfig()
	cfg.SetLocal(3, 1, 1, 1)
	for _, id := range cfg.IDs() {
		cfg.Addrs[id] = "127.0.0.1:" + itoa(freePort(t))
		cfg.HTTPAddrs[id] = "http://127.0.0.1:" + itoa(freePort(t))
		cfg.NativeAddrs[id] = "127.0.0.1:" + itoa(freePort(t))
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	procs := map[paxi.ID]*exec.Cmd{}
	for _, id := range cfg.IDs() {
		cmd := exec.Command(bin, "server", "-id", id.String(), "-config", cfgPath, "-log-level", "warn")
		var logs bytes.Buffer
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[id] = cmd
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			if t.Failed() {
				t.Logf("node %v log:\n%s", id, logs.String())
			}
		})
	}
	ctx := context.Background()
	leader, err := waitLeader(ctx, cfg, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var urls, live []string
	for _, id := range cfg.IDs() {
		urls = append(urls, cfg.HTTPAddrs[id])
		if id != leader {
			live = append(live, cfg.HTTPAddrs[id])
		}
	}
	l := clustertest.StartLoad(urls, 6, 5)
	time.Sleep(500 * time.Millisecond)
	procs[leader].Process.Signal(syscall.SIGKILL)
	procs[leader].Wait()
	before := l.Acked()
	// A new leader among the survivors.
	deadline := time.Now().Add(10 * time.Second)
	var newLeader paxi.ID
	for time.Now().Before(deadline) && (newLeader == 0 || newLeader == leader) {
		st, err := client.NewREST(live[0], "", time.Second).Status(ctx)
		if err == nil {
			newLeader = st.Leader
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second)
	l.Stop()
	t.Logf("killed leader %v; new leader %v; %d writes acknowledged before the kill settled, %d in all", leader, newLeader, before, l.Acked())
	if newLeader == 0 || newLeader == leader {
		t.Fatalf("no new leader after killing %v", leader)
	}
	if l.Acked() <= before {
		t.Fatal("no write acknowledged after the kill")
	}
	clustertest.CheckAcked(t, live, l)
}
