package wankeeper_test

import (
	"context"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/internal/clustertest"
	"github.com/ailidani/paxi-style/internal/proctest"
	"github.com/ailidani/paxi-style/paxi"
)

// waitMaster waits until every node of ids reports the same master, other
// than not, and returns it.
func waitMaster(t *testing.T, cfg *paxi.Config, ids []paxi.ID, not paxi.ID, timeout time.Duration) paxi.ID {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var master paxi.ID
		agreed := true
		for _, id := range ids {
			st, err := client.NewREST(cfg.HTTPAddrs[id], "", time.Second).Status(context.Background())
			if err != nil || st.Leader == 0 || st.Leader == not || (master != 0 && st.Leader != master) {
				agreed = false
				break
			}
			master = st.Leader
		}
		if agreed {
			return master
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nodes %v did not agree on a master (other than %v) within %v", ids, not, timeout)
	return 0
}

// Nine real processes (3 zones of 3 on loopback, the aws5 WAN emulated)
// run WanKeeper while clients in every zone record a history; the master
// is killed (SIGKILL) mid-run. The master zone elects a new master, clients
// keep completing operations, the history is linearizable and the
// surviving replicas agree.
func TestProcessesSurviveMasterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the paxi binary and runs nine processes")
	}
	cfg := paxi.DefaultConfig()
	cfg.Protocol = "wankeeper"
	cfg.SetLocal(9, 3, 1, 1)
	cfg.WAN = &paxi.WAN{Preset: "aws5"}
	pc := proctest.Start(t, cfg)
	master := waitMaster(t, cfg, cfg.IDs(), 0, 30*time.Second)
	var urls []string
	var liveIDs []paxi.ID
	for _, id := range cfg.IDs() {
		urls = append(urls, cfg.HTTPAddrs[id])
		if id != master {
			liveIDs = append(liveIDs, id)
		}
	}
	const keys = 4
	rec := clustertest.StartRecorder(urls, 9, keys, 0.5, 3*time.Second)
	time.Sleep(2 * time.Second)
	pc.Kill(master)
	killedAt := time.Now().UnixNano()
	newMaster := waitMaster(t, cfg, liveIDs, master, 15*time.Second)
	time.Sleep(3 * time.Second)
	ops := rec.Stop()

	after := 0
	for _, op := range ops {
		if op.Error == "" && op.Call > killedAt {
			after++
		}
	}
	t.Logf("killed master %v; new master %v; %d operations, %d completed after the kill", master, newMaster, len(ops), after)
	if after == 0 {
		t.Fatal("no operation completed after the master was killed")
	}
	time.Sleep(time.Second) // the survivors learn the last commits
	survivors := map[string]string{}
	for _, id := range liveIDs {
		survivors[id.String()] = cfg.HTTPAddrs[id]
	}
	clustertest.CheckHistory(t, ops, survivors, keys)
}
