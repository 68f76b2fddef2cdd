package wpaxos_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/history"
	"github.com/ailidani/paxi-style/internal/clustertest"
	"github.com/ailidani/paxi-style/internal/proctest"
	"github.com/ailidani/paxi-style/paxi"
)

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
	cfg := paxi.DefaultConfig()
	cfg.Protocol = "wpaxos"
	cfg.SetLocal(9, 3, 1, 1)
	cfg.WAN = &paxi.WAN{Preset: "aws5"}
	cfg.WPaxos = paxi.WPaxosConfig{FZ: 0, Policy: paxi.WPaxosNone}
	pc := proctest.Start(t, cfg)
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
	pc.Kill(owner)
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
	time.Sleep(2 * time.Second) // the survivors learn the last commits
	survivors := map[string]string{}
	for _, id := range liveIDs {
		survivors[id.String()] = cfg.HTTPAddrs[id]
	}
	clustertest.CheckHistory(t, ops, survivors, keys)
}
