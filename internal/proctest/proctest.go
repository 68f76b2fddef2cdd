// Package proctest runs a cluster of real paxi server processes for tests
// that kill one with SIGKILL: it builds the command, gives every node free
// loopback ports, writes the configuration, starts one process per node,
// waits until they answer, and stops them when the test ends (printing a
// node's log if the test failed).
package proctest

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/paxi"
)

// Cluster is one server process per node of Config.
type Cluster struct {
	// Config is the configuration the processes run, with their ports.
	Config *paxi.Config
	// Bin is the paxi command; ConfigPath the configuration file.
	Bin, ConfigPath string

	procs map[paxi.ID]*exec.Cmd
}

// Build builds the paxi command into a temporary directory of t.
func Build(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "paxi")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/ailidani/paxi-style/bin/paxi").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// Ports gives every node of cfg free loopback ports for its transport,
// REST API and native protocol. All are held until all are chosen, so no
// two are the same.
func Ports(t testing.TB, cfg *paxi.Config) {
	t.Helper()
	ids := cfg.IDs()
	ports := make([]string, 0, 3*len(ids))
	for range 3 * len(ids) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	for i, id := range ids {
		cfg.Addrs[id] = "127.0.0.1:" + ports[3*i]
		cfg.HTTPAddrs[id] = "http://127.0.0.1:" + ports[3*i+1]
		cfg.NativeAddrs[id] = "127.0.0.1:" + ports[3*i+2]
	}
}

// Start builds the command, gives cfg's nodes free ports, and starts one
// `paxi server` per node, with extra arguments after the defaults; it
// returns once every node answers /status.
func Start(t testing.TB, cfg *paxi.Config, extra ...string) *Cluster {
	t.Helper()
	c := &Cluster{Config: cfg, Bin: Build(t), procs: map[paxi.ID]*exec.Cmd{}}
	Ports(t, cfg)
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	c.ConfigPath = filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(c.ConfigPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, id := range cfg.IDs() {
		args := append([]string{"server", "-id", id.String(), "-config", c.ConfigPath, "-log-level", "warn"}, extra...)
		cmd := exec.Command(c.Bin, args...)
		logs := &syncBuffer{}
		cmd.Stderr = logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		c.procs[id] = cmd
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			if t.Failed() {
				t.Logf("node %v log:\n%s", id, logs.String())
			}
		})
	}
	c.WaitUp(t, 30*time.Second)
	return c
}

// Kill kills node id's process with SIGKILL and waits for it to end.
func (c *Cluster) Kill(id paxi.ID) {
	if p := c.procs[id]; p != nil {
		p.Process.Kill()
		p.Wait()
	}
}

// WaitUp waits until every node answers /status.
func (c *Cluster) WaitUp(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, id := range c.Config.IDs() {
		for {
			_, err := client.NewREST(c.Config.HTTPAddrs[id], "", time.Second).Status(context.Background())
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

// syncBuffer is a bytes.Buffer safe for the process's writes and the
// test's read.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
