package wpaxos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/checker"
	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/history"
	"github.com/ailidani/paxi-style/internal/clustertest"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/store"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// waitUp waits until every node answers /status.
func waitUp(t *testing.T, cfg *paxi.Config, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, id := range cfg.IDs() {
		for {
			_, err := client.NewREST(cfg.HTTPAddrs[id], "", time.Second).Status(context.Background())
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %v not up within %v: %v", id, timeout, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// Nine real processes (3 zones of 3 on loopback, the aws5 WAN emulated)
// run WPaxos. Every object is first written at node 1.1, which so owns them
// all (policy none keeps them there); clients at every node then record a
// history, and 1.1 is killed (SIGKILL) mid-run. The nodes whose clients
// wait take the objects over, operations keep completing, the history is
// linearizable and the surviving replicas agree.
func TestProcessesSurviveOwnerKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the paxi binary and runs nine processes")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "paxi")
	if out, err := exec.Command("go", "build", "-o", bin, "../../bin/paxi").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := paxi.DefaultConfig()
	cfg.Protocol = "wpaxos"
	cfg.SetLocal(9, 3, 1, 1)
	cfg.WAN = &paxi.WAN{Preset: "aws5"}
	cfg.WPaxos = paxi.WPaxosConfig{FZ: 0, Policy: paxi.WPaxosNone}
	for _, id := range cfg.IDs() {
		cfg.Addrs[id] = "127.0.0.1:" + freePort(t)
		cfg.HTTPAddrs[id] = "http://127.0.0.1:" + freePort(t)
		cfg.NativeAddrs[id] = "127.0.0.1:" + freePort(t)
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
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
	waitUp(t, cfg, 30*time.Second)
	owner := paxi.MustID("1.1")
	const keys = 4
	first := client.NewREST(cfg.HTTPAddrs[owner], "setup", 10*time.Second)
	var setup []history.Operation
	for k := range keys {
		op := history.Operation{Client: "setup", Kind: history.Put, Key: "h" + strconv.Itoa(k), Input: []byte("setup"), Node: cfg.HTTPAddrs[owner]}
		op.Call = time.Now().UnixNano()
		if _, err := first.Put(context.Background(), op.Key, op.Input); err != nil {
			t.Fatalf("first write of %s at %v: %v", op.Key, owner, err)
		}
		op.Return = time.Now().UnixNano()
		setup = append(setup, op)
	}
	var urls []string
	var liveIDs []paxi.ID
	for _, id := range cfg.IDs() {
		urls = append(urls, cfg.HTTPAddrs[id])
		if id != owner {
			liveIDs = append(liveIDs, id)
		}
	}
	rec := clustertest.StartRecorder(urls, 9, keys, 0.5, 3*time.Second)
	time.Sleep(2 * time.Second)
	procs[owner].Process.Signal(syscall.SIGKILL)
	procs[owner].Wait()
	killedAt := time.Now().UnixNano()
	time.Sleep(5 * time.Second)
	ops := append(setup, rec.Stop()...)

	after := 0
	for _, op := range ops {
		if op.Error == "" && op.Call > killedAt {
			after++
		}
	}
	t.Logf("killed %v, the owner of every object; %d operations, %d completed after the kill", owner, len(ops), after)
	if after == 0 {
		t.Fatal("no operation completed after the owner was killed")
	}
	rep, err := checker.Linearizable(context.Background(), ops, checker.Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("linearizability: %s", rep.String())
	if rep.Verdict != checker.Ok {
		t.Fatal("history not linearizable")
	}
	time.Sleep(2 * time.Second) // the survivors learn the last commits
	replicas := map[string]map[string][]store.Version{}
	for _, id := range liveIDs {
		replicas[id.String()] = map[string][]store.Version{}
		for k := range keys {
			key := "h" + strconv.Itoa(k)
			h, err := client.NewREST(cfg.HTTPAddrs[id], "", 5*time.Second).HistoryDetail(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			replicas[id.String()][key] = h
		}
	}
	cons := checker.Consensus(replicas, ops)
	t.Logf("agreement: %s", cons.String())
	if !cons.Ok() {
		t.Fatal("surviving replicas disagree")
	}
}
