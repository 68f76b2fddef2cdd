package smr_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/node"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols"
	"github.com/ailidani/paxi-style/smr"
	"github.com/ailidani/paxi-style/transport"
)

func needRedis(t testing.TB) {
	t.Helper()
	if _, err := smr.LookRedis(""); err != nil {
		t.Skipf("skipping: %v", err)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// startCluster starts n replicas of a replicated Redis in this process,
// over the in-process transport, and waits for a leader if the protocol
// has one.
func startCluster(t testing.TB, n int, protocol string) []*smr.Replica {
	t.Helper()
	needRedis(t)
	p, err := protocols.Lookup(protocol)
	if err != nil {
		t.Fatal(err)
	}
	cfg := paxi.DefaultConfig()
	cfg.SetLocal(n, 1, 1, 1)
	cfg.Protocol = protocol
	cfg.Transport = paxi.TransportChan
	cfg.NativeAddrs = nil
	cfg.LogLevel = "error"
	httpLns := map[paxi.ID]net.Listener{}
	for _, id := range cfg.IDs() {
		httpLns[id] = listen(t)
		cfg.HTTPAddrs[id] = "http://" + httpLns[id].Addr().String()
	}
	chans := transport.NewChanNetwork()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var rs []*smr.Replica
	for _, id := range cfg.IDs() {
		r, err := smr.StartReplica(context.Background(), smr.ReplicaConfig{
			Config: cfg, ID: id, Protocol: p,
			Listener: listen(t),
			Redis:    smr.RedisOptions{Port: freePort(t)},
			Node:     node.Options{ChanNet: chans, HTTPListener: httpLns[id], Logger: logger},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		rs = append(rs, r)
	}
	waitFor(t, "a leader", func() bool {
		for _, r := range rs {
			st, err := r.Node.Status(context.Background())
			if err != nil || (st.Ballot != "" && st.Leader == 0) {
				return false
			}
		}
		return true
	})
	return rs
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// digests returns every replica's DEBUG DIGEST, read from its Redis
// directly (not through the proxy).
func digests(t testing.TB, rs []*smr.Replica) []string {
	t.Helper()
	var out []string
	for _, r := range rs {
		d, err := smr.Digest(context.Background(), r.Redis.Addr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func allEqual(ds []string) bool {
	for _, d := range ds {
		if d != ds[0] {
			return false
		}
	}
	return true
}

// A small load through the proxies of three Multi-Paxos replicas, with
// clients at every replica, pipelining, and commands cut into pieces:
// replies are right (INCR hands out every number once), and afterwards the
// three Redis copies hold the same data.
func TestReplicatedRedisConverges(t *testing.T) {
	for _, protocol := range []string{"paxos", "epaxos"} {
		t.Run(protocol, func(t *testing.T) {
			rs := startCluster(t, 3, protocol)
			const clients, rounds = 6, 40
			var mu sync.Mutex
			seen := map[int64]bool{}
			var wg sync.WaitGroup
			for c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := clientLoad(rs[c%len(rs)].Addr, c, rounds, func(v int64) {
						mu.Lock()
						defer mu.Unlock()
						if seen[v] {
							t.Errorf("INCR returned %d twice", v)
						}
						seen[v] = true
					}); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			if len(seen) != clients*rounds {
				t.Fatalf("%d distinct INCR results, want %d", len(seen), clients*rounds)
			}
			var ds []string
			waitFor(t, "the Redis copies to converge", func() bool {
				ds = digests(t, rs)
				return allEqual(ds)
			})
			for _, r := range rs {
				c, err := smr.DialRedis(context.Background(), r.Redis.Addr)
				if err != nil {
					t.Fatal(err)
				}
				v, err := c.Do("GET", "counter")
				c.Close()
				if err != nil || v != strconv.Itoa(clients*rounds) {
					t.Fatalf("replica %v: counter = %v (%v), want %d", r.ID, v, err, clients*rounds)
				}
			}
			t.Logf("digest %s on all replicas", ds[0])
		})
	}
}

// clientLoad runs rounds of: INCR counter; a pipelined SET and RPUSH
// written in two pieces cut inside a command; a GET that must read the
// SET back. It reports every INCR result.
func clientLoad(addr string, id, rounds int, incr func(int64)) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	line := func() (string, error) {
		s, err := r.ReadString('\n')
		return strings.TrimSuffix(s, "\r\n"), err
	}
	for i := range rounds {
		if _, err := io.WriteString(conn, "INCR counter\r\n"); err != nil {
			return err
		}
		s, err := line()
		if err != nil || !strings.HasPrefix(s, ":") {
			return fmt.Errorf("client %d: INCR: %q %v", id, s, err)
		}
		v, _ := strconv.ParseInt(s[1:], 10, 64)
		incr(v)

		key, val := fmt.Sprintf("k%d", id), fmt.Sprintf("v%d.%d", id, i)
		cmds := resp("SET", key, val) + resp("RPUSH", fmt.Sprintf("l%d", id), val) + resp("GET", key)
		cut := 7 + i%9
		if _, err := io.WriteString(conn, cmds[:cut]); err != nil {
			return err
		}
		time.Sleep(time.Millisecond) // the pieces travel as separate inputs
		if _, err := io.WriteString(conn, cmds[cut:]); err != nil {
			return err
		}
		want := []string{"+OK", fmt.Sprintf(":%d", i+1), fmt.Sprintf("$%d", len(val)), val}
		for _, w := range want {
			if s, err := line(); err != nil || s != w {
				return fmt.Errorf("client %d round %d: got %q (%v), want %q", id, i, s, err, w)
			}
		}
	}
	return nil
}

func resp(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}
