package native_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/native"
	"github.com/ailidani/paxi-style/node"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/paxos"
)

func listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// startCluster starts an n-node Multi-Paxos cluster over TCP on loopback,
// each node with a native server next to it, and returns the native
// addresses by node.
func startCluster(t testing.TB, n int) (*paxi.Config, map[paxi.ID]*node.Node, map[paxi.ID]string) {
	t.Helper()
	cfg := paxi.DefaultConfig()
	cfg.SetLocal(n, 1, 1, 1)
	cfg.NativeAddrs = nil // this test starts the native servers itself
	cfg.LogLevel = "warn"
	cfg.RequestTimeout = paxi.Duration(3 * time.Second)
	lns := map[paxi.ID][2]net.Listener{}
	for _, id := range cfg.IDs() {
		tl, hl := listen(t), listen(t)
		cfg.Addrs[id] = tl.Addr().String()
		cfg.HTTPAddrs[id] = "http://" + hl.Addr().String()
		lns[id] = [2]net.Listener{tl, hl}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	nodes := map[paxi.ID]*node.Node{}
	addrs := map[paxi.ID]string{}
	for _, id := range cfg.IDs() {
		nd, err := node.New(cfg, id, paxos.Protocol(), node.Options{Logger: logger, Listener: lns[id][0], HTTPListener: lns[id][1]})
		if err != nil {
			t.Fatal(err)
		}
		nodes[id] = nd
		t.Cleanup(func() { nd.Close() })
		srv := native.NewServer(nd, logger, native.OptionsFor(cfg))
		addr, err := srv.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		addrs[id] = addr.String()
	}
	for _, nd := range nodes {
		nd.Run()
	}
	return cfg, nodes, addrs
}

// waitLeader waits until every node reports the same leader.
func waitLeader(t testing.TB, nodes map[paxi.ID]*node.Node) paxi.ID {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var leader paxi.ID
		agreed := true
		for _, nd := range nodes {
			st, err := nd.Status(context.Background())
			if err != nil || st.Leader == 0 || (leader != 0 && st.Leader != leader) {
				agreed = false
				break
			}
			leader = st.Leader
		}
		if agreed {
			return leader
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no leader")
	return 0
}

// A 3-node Multi-Paxos cluster over TCP serving native clients: a write
// through one node is read through another, answers carry the slot that
// ordered them, and concurrent writers on every node all land.
func TestClusterNative(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	cfg, nodes, addrs := startCluster(t, 3)
	leader := waitLeader(t, nodes)
	ids := cfg.IDs()
	var follower paxi.ID
	for _, id := range ids {
		if id != leader {
			follower = id
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	clients := map[paxi.ID]*native.Client{}
	for _, id := range ids {
		c, err := native.Dial(addrs[id], "it-"+id.String(), native.ClientOptions{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients[id] = c
	}

	// Put on a follower (forwarded to the leader), get on the leader.
	r, err := clients[follower].Put(ctx, "x", []byte("hello"))
	if err != nil || r.Found || r.Slot < 0 {
		t.Fatalf("put on %v: %+v %v", follower, r, err)
	}
	g, err := clients[leader].Get(ctx, "x")
	if err != nil || string(g.Value) != "hello" || g.Version != 1 || g.Slot <= r.Slot {
		t.Fatalf("get on %v after put on %v: %+v %v (put slot %d)", leader, follower, g, err, r.Slot)
	}
	if _, err := clients[follower].Get(ctx, "never-written"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("get of a missing key: %v", err)
	}

	// Writers on every node at once, each with many requests in flight.
	const perNode, workers = 60, 8
	var wg sync.WaitGroup
	errs := make(chan error, len(ids)*workers)
	for _, id := range ids {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < perNode; i += workers {
					k := "n" + id.String() + "-" + strconv.Itoa(i)
					if _, err := clients[id].Put(ctx, k, []byte(k)); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Every write is read back through a different node than its writer.
	for i, id := range ids {
		reader := clients[ids[(i+1)%len(ids)]]
		for j := range perNode {
			k := "n" + id.String() + "-" + strconv.Itoa(j)
			if r, err := reader.Get(ctx, k); err != nil || string(r.Value) != k {
				t.Fatalf("read %s: %+v %v", k, r, err)
			}
		}
	}
}

// BenchmarkClusterNative drives a 3-node Multi-Paxos cluster over TCP
// through the leader's native server with 64 concurrent clients sharing
// one connection: 50 % puts of 64 bytes over 1000 keys.
func BenchmarkClusterNative(b *testing.B) {
	_, nodes, addrs := startCluster(b, 3)
	leader := waitLeader(b, nodes)
	c, err := native.Dial(addrs[leader], "bench", native.ClientOptions{Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	value := make([]byte, 64)
	var seq atomic.Uint64
	ctx := context.Background()
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			key := strconv.FormatUint(i*7919%1000, 10)
			var err error
			if i%2 == 0 {
				_, err = c.Put(ctx, key, value)
			} else if _, err = c.Get(ctx, key); errors.Is(err, client.ErrNotFound) {
				err = nil
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
