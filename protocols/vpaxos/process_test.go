package vpaxos_test

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

// Six real processes (3 zones of 2 on loopback, Virginia, Ohio and
// California of the aws5 WAN emulated) run Vertical Paxos. Every object is
// first written at node 1.1, which so becomes the primary of them all, with
// 1.2 and an Ohio node as backups; 1.1 is also a member of the
// configuration master. Clients at the two Virginia nodes (the primary's
// zone, so the locality policy keeps the objects there) record a history,
// and 1.1 is killed (SIGKILL) mid-run. 1.2, whose requests then wait,
// takes the objects over through the master's surviving members: the
// history is linearizable and the surviving replicas agree.
func TestProcessesSurvivePrimaryKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the paxi binary and runs six processes")
	}
	cfg := paxi.DefaultConfig()
	cfg.Protocol = "vpaxos"
	cfg.SetLocal(6, 3, 1, 1)
	aws := paxi.Presets["aws5"]
	var rtt [][]paxi.Duration
	for i := range 3 {
		var row []paxi.Duration
		for j := range 3 {
			row = append(row, paxi.Duration(aws[i][j]))
		}
		rtt = append(rtt, row)
	}
	cfg.WAN = &paxi.WAN{RTT: rtt}
	pc := proctest.Start(t, cfg)
	primary, other := paxi.MustID("1.1"), paxi.MustID("1.2")
	const keys = 4
	first := client.NewREST(cfg.HTTPAddrs[primary], "setup", 10*time.Second)
	var setup []history.Operation // part of the history the checker sees
	for k := range keys {
		op := history.Operation{Client: "setup", Kind: history.Put, Key: "h" + strconv.Itoa(k), Input: []byte("setup"),
			Node: cfg.HTTPAddrs[primary], Call: time.Now().UnixNano()}
		if _, err := first.Put(context.Background(), op.Key, op.Input); err != nil {
			t.Fatalf("first write of %s at %v: %v", op.Key, primary, err)
		}
		op.Return = time.Now().UnixNano()
		setup = append(setup, op)
	}
	urls := []string{cfg.HTTPAddrs[primary], cfg.HTTPAddrs[other]}
	rec := clustertest.StartRecorder(urls, 8, keys, 0.5, 5*time.Second)
	time.Sleep(2 * time.Second)
	pc.Kill(primary)
	killedAt := time.Now().UnixNano()
	time.Sleep(8 * time.Second)
	ops := append(setup, rec.Stop()...)

	after, failed := 0, 0
	var firstAfter time.Duration
	for _, op := range ops {
		if op.Error != "" {
			failed++
		} else if op.Call > killedAt {
			if after == 0 || time.Duration(op.Return-killedAt) < firstAfter {
				firstAfter = time.Duration(op.Return - killedAt)
			}
			after++
		}
	}
	t.Logf("killed %v, the primary of every object; %d operations (%d failed or unknown), %d completed after the kill, the first %v after it",
		primary, len(ops), failed, after, firstAfter.Round(time.Millisecond))
	if after == 0 {
		t.Fatal("no operation completed after the primary was killed")
	}
	time.Sleep(2 * time.Second) // the survivors learn the last commits
	survivors := map[string]string{}
	for _, id := range cfg.IDs() {
		if id != primary {
			survivors[id.String()] = cfg.HTTPAddrs[id]
		}
	}
	clustertest.CheckHistory(t, ops, survivors, keys)
}
