package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/master"
	"github.com/ailidani/paxi-style/paxi"
)

func TestServerID(t *testing.T) {
	tests := []struct {
		id          string
		zone, index int
		want        string // "" for an error
	}{
		{"1.2", 0, -1, "1.2"},
		{"", 3, 0, "3.1"},
		{"", 2, 4, "2.5"},
		{"", 0, -1, ""},    // nothing
		{"1.1", 2, 0, ""},  // both ways
		{"", 2, -1, ""},    // zone without index
		{"", 0, 1, ""},     // index without zone
		{"x", 0, -1, ""},   // bad id
		{"", 70000, 0, ""}, // zone out of range
	}
	for _, tt := range tests {
		id, err := serverID(tt.id, tt.zone, tt.index)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("serverID(%q, %d, %d) = %v, want an error", tt.id, tt.zone, tt.index, id)
		case tt.want != "" && (err != nil || id.String() != tt.want):
			t.Errorf("serverID(%q, %d, %d) = %v, %v; want %s", tt.id, tt.zone, tt.index, id, err, tt.want)
		}
	}
}

func TestMasterBadInvocations(t *testing.T) {
	tests := [][]string{
		{"master"}, // no -config
		{"master", "-config", "/nonexistent.json"},
		{"server", "-id", "1.1", "-master", "127.0.0.1:1", "-config", "x.json"}, // both
		{"server", "-id", "1.1", "-master", "not a host"},
		{"server", "-id", "1.1", "-master", "127.0.0.1:1", "-master-timeout", "0s"},
		{"bench", "-master", "ftp://h:1"},
	}
	for _, args := range tests {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code == 0 {
			t.Errorf("paxi %v succeeded", args)
		} else if errb.Len() == 0 {
			t.Errorf("paxi %v failed without a message", args)
		} else {
			t.Logf("paxi %v: %s", strings.Join(args, " "), strings.TrimSpace(errb.String()))
		}
	}
}

// buildPaxi builds the command into a temporary directory.
func buildPaxi(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "paxi")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// A master process serves a configuration file; three server processes get
// it with -master, report ready, and paxi bench -master benchmarks them
// with the master's node list.
func TestMasterConfiguresProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin := buildPaxi(t)
	dir := t.TempDir()
	cfg := paxi.DefaultConfig()
	cfg.SetLocal(3, 3, 1, 1)
	for _, id := range cfg.IDs() {
		cfg.Addrs[id] = "127.0.0.1:" + itoa(freePort(t))
		cfg.HTTPAddrs[id] = "http://127.0.0.1:" + itoa(freePort(t))
		cfg.NativeAddrs[id] = "127.0.0.1:" + itoa(freePort(t))
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	cfgPath := filepath.Join(dir, "cluster.json")
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + itoa(freePort(t))
	start := func(args ...string) {
		cmd := exec.Command(bin, args...)
		var logs bytes.Buffer
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			if t.Failed() {
				t.Logf("paxi %v log:\n%s", args, logs.String())
			}
		})
	}
	// The servers start first: they wait for the master to come up.
	for _, id := range cfg.IDs() {
		start("server", "-id", id.String(), "-master", addr, "-log-level", "warn")
	}
	start("master", "-config", cfgPath, "-listen", addr, "-log-level", "warn")

	ctx := context.Background()
	var r master.Readiness
	for deadline := time.Now().Add(30 * time.Second); !r.All && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var err error
		if r, err = master.Ready(ctx, addr, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if !r.All {
		t.Fatalf("not every node reported ready: %+v", r)
	}
	var out, errb bytes.Buffer
	bench := exec.Command(bin, "bench", "-master", addr, "-N", "200", "-c", "4", "-at", "zone")
	bench.Stdout, bench.Stderr = &out, &errb
	if err := bench.Run(); err != nil {
		t.Fatalf("paxi bench -master: %v\n%s", err, errb.String())
	}
	for _, want := range []string{"ops/s", "1.1", "2.1", "3.1"} {
		if !strings.Contains(out.String()+errb.String(), want) {
			t.Errorf("bench output lacks %q:\n%s\n%s", want, out.String(), errb.String())
		}
	}
	t.Logf("%s%s", errb.String(), out.String())
}

// A server whose master never answers exits non-zero with a message naming
// the master, once -master-timeout has passed (the context only guards the
// test against a hang).
func TestServerWithoutMasterExits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin := buildPaxi(t)
	addr := "127.0.0.1:" + itoa(freePort(t)) // nothing listens there
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "server", "-id", "1.1", "-master", addr, "-master-timeout", "500ms")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("paxi server -master %s still running after a minute:\n%s", addr, out)
	}
	if err == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("paxi server -master %s: %v, want exit status 1:\n%s", addr, err, out)
	}
	if !strings.Contains(string(out), "unreachable") || !strings.Contains(string(out), addr) {
		t.Fatalf("message does not say the master %s is unreachable:\n%s", addr, out)
	}
	t.Logf("%s", out)
}
