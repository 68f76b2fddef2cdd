package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/smr"
)

func TestProxyBadInvocations(t *testing.T) {
	if _, err := smr.LookRedis(""); err != nil {
		t.Skipf("skipping: %v", err)
	}
	for _, args := range [][]string{
		{"proxy", "-listen", "nope"},
		{"proxy", "-redis-port", "0"},
		{"proxy", "-id", "9.9"},
		{"proxy", "-id", "1.1", "-transport", "chan"},
		{"proxy", "-redis-server", "/nonexistent/redis-server"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code == 0 || errb.Len() == 0 {
			t.Errorf("paxi %v: exit %d, stderr %q", args, code, errb.String())
		}
	}
}

// freeRun returns the first of n consecutive free loopback ports, none of
// them in taken, and adds them to taken.
func freeRun(t *testing.T, n int, taken *[]string) int {
	t.Helper()
	for range 100 {
		base := freePort(t)
		var lns []net.Listener
		for i := range n {
			addr := "127.0.0.1:" + itoa(base+i)
			if slices.Contains(*taken, addr) {
				break
			}
			l, err := net.Listen("tcp", addr)
			if err != nil {
				break
			}
			lns = append(lns, l)
		}
		for _, l := range lns {
			l.Close()
		}
		if len(lns) == n {
			for i := range n {
				*taken = append(*taken, "127.0.0.1:"+itoa(base+i))
			}
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports", n)
	return 0
}

// Three replica processes of a replicated Redis (paxi proxy -id); clients
// spread over them write keys; the leader's process is killed with SIGKILL
// (its redis-server dies with it). Its clients reconnect to another
// replica, and afterwards the two surviving Redis copies are identical and
// hold every write that any client saw acknowledged.
func TestProxyProcessesSurviveLeaderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	if _, err := smr.LookRedis(""); err != nil {
		t.Skipf("skipping: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "paxi")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
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
	var taken []string
	for _, id := range cfg.IDs() {
		taken = append(taken, cfg.Addrs[id], strings.TrimPrefix(cfg.HTTPAddrs[id], "http://"), cfg.NativeAddrs[id])
	}
	listenPort := freeRun(t, 3, &taken)
	redisPort := freeRun(t, 3, &taken)
	ids := cfg.IDs()
	clientAddr := func(i int) string { return "127.0.0.1:" + itoa(listenPort+i) }
	redisAddr := func(i int) string { return "127.0.0.1:" + itoa(redisPort+i) }
	procs := map[paxi.ID]*exec.Cmd{}
	for _, id := range ids {
		cmd := exec.Command(bin, "proxy", "-id", id.String(), "-config", cfgPath, "-log-level", "warn",
			"-listen", clientAddr(0), "-redis-port", itoa(redisPort))
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[id] = cmd
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
			}
			if t.Failed() {
				t.Logf("replica %v output:\n%s", id, logs.String())
			}
		})
	}
	ctx := context.Background()
	leader, err := waitLeader(ctx, cfg, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	li := slices.Index(ids, leader)

	// Clients: two per replica, each writing its own keys in order; on an
	// error they move to the next replica and retry the same write.
	var mu sync.Mutex
	acked := map[string]string{}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var reconnects atomic.Int64
	for c := range 2 * len(ids) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at := c % len(ids)
			var conn *smr.RedisConn
			for i := 0; !stop.Load(); {
				if conn == nil {
					dctx, cancel := context.WithTimeout(ctx, time.Second)
					c, err := smr.DialRedis(dctx, clientAddr(at))
					cancel()
					if err != nil {
						at = (at + 1) % len(ids)
						reconnects.Add(1)
						time.Sleep(50 * time.Millisecond)
						continue
					}
					conn = c
					conn.Timeout = 5 * time.Second
				}
				key, val := fmt.Sprintf("c%d:k%d", c, i), strconv.Itoa(i)
				if v, err := conn.Do("SET", key, val); err != nil || v != "OK" {
					conn.Close()
					conn = nil
					at = (at + 1) % len(ids)
					reconnects.Add(1)
					continue
				}
				mu.Lock()
				acked[key] = val
				mu.Unlock()
				i++
			}
			if conn != nil {
				conn.Close()
			}
		}()
	}
	time.Sleep(time.Second)
	procs[leader].Process.Signal(syscall.SIGKILL)
	procs[leader].Wait()
	mu.Lock()
	before := len(acked)
	mu.Unlock()
	var live []int
	for i := range ids {
		if i != li {
			live = append(live, i)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	var newLeader paxi.ID
	for time.Now().Before(deadline) && (newLeader == 0 || newLeader == leader) {
		if st, err := client.NewREST(cfg.HTTPAddrs[ids[live[0]]], "", time.Second).Status(ctx); err == nil {
			newLeader = st.Leader
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	t.Logf("killed leader %v; new leader %v; %d writes acknowledged before the kill, %d in all; %d reconnects",
		leader, newLeader, before, len(acked), reconnects.Load())
	if newLeader == 0 || newLeader == leader {
		t.Fatalf("no new leader after killing %v", leader)
	}
	if len(acked) <= before {
		t.Fatal("no write acknowledged after the kill")
	}

	// The survivors' Redis copies converge and hold every acknowledged write.
	var ds []string
	deadline = time.Now().Add(20 * time.Second)
	for {
		ds = ds[:0]
		for _, i := range live {
			d, err := smr.Digest(ctx, redisAddr(i))
			if err != nil {
				t.Fatal(err)
			}
			ds = append(ds, d)
		}
		if ds[0] == ds[1] || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("survivors' digests: %v", ds)
	if ds[0] != ds[1] {
		t.Fatalf("the surviving Redis copies differ: %v", ds)
	}
	for _, i := range live {
		conn, err := smr.DialRedis(ctx, redisAddr(i))
		if err != nil {
			t.Fatal(err)
		}
		missing := 0
		for k, v := range acked {
			if got, err := conn.Do("GET", k); err != nil || got != v {
				missing++
				if missing <= 5 {
					t.Errorf("replica %v: %s = %v (%v), acknowledged %q", ids[i], k, got, err, v)
				}
			}
		}
		conn.Close()
		if missing > 0 {
			t.Fatalf("replica %v lost %d of %d acknowledged writes", ids[i], missing, len(acked))
		}
	}
}
