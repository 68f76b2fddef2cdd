package node_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/node"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/paxos"
	"github.com/ailidani/paxi-style/transport"
)

// BenchmarkChanClusterCommit measures the commit throughput of a 3-node
// Multi-Paxos cluster in one process over the in-process channel transport,
// without HTTP: many goroutines submit 64-byte puts to the leader's event
// loop. It is the protocol plus runtime cost, with no sockets or codec.
func BenchmarkChanClusterCommit(b *testing.B) {
	cfg := paxi.DefaultConfig()
	cfg.Transport = paxi.TransportChan
	cfg.LogLevel = "error"
	cfg.NativeAddrs = nil
	net := transport.NewChanNetwork()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var nodes []*node.Node
	for _, id := range cfg.IDs() {
		hl := listen(b)
		cfg.HTTPAddrs[id] = "http://" + hl.Addr().String()
		n, err := node.New(cfg, id, paxos.Protocol(), node.Options{Logger: logger, ChanNet: net, HTTPListener: hl})
		if err != nil {
			b.Fatal(err)
		}
		nodes = append(nodes, n)
		defer n.Close()
	}
	for _, n := range nodes {
		n.Run()
	}
	ctx := context.Background()
	var leader *node.Node
	for leader == nil {
		for _, n := range nodes {
			if st, _ := n.Status(ctx); st.Leader == n.ID() {
				leader = n
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	value := make([]byte, 64)
	var seq atomic.Uint64
	b.SetParallelism(32) // 64 concurrent clients on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		client := "b" + strconv.FormatUint(seq.Add(1), 10)
		var cid uint64
		for pb.Next() {
			cid++
			_, err := leader.Do(ctx, paxi.Command{Op: paxi.Put, Key: strconv.FormatUint(cid%1000, 10), Value: value, ClientID: client, CommandID: cid})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}
