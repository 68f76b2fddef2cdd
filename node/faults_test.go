package node_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/checker"
	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/fault"
	"github.com/ailidani/paxi-style/internal/clustertest"
	"github.com/ailidani/paxi-style/store"
)

// A fault schedule written for the simulator runs against real runtimes on
// loopback TCP through the nodes' fault endpoints, while clients record a
// history; the history is linearizable and the replicas agree.
func TestScheduleOnRealClusterStaysLinearizable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real time faults for several seconds")
	}
	c := startCluster(t, 3)
	c.leader(t, c.cfg.IDs())
	s, err := fault.Parse([]byte(`
at 500ms crash leader for 1500ms
at 3s partition 1.1 | 1.2 1.3 for 1s
at 4500ms slow leader -> follower 20ms for 1s
at 5s flaky follower -> leader 0.3 for 1s
at 5s drop 1.3 -> 1.1 for 500ms
at 6500ms heal
`))
	if err != nil {
		t.Fatal(err)
	}
	const keys = 4
	rec := clustertest.StartRecorder(c.urls(c.cfg.IDs()), 6, keys, 0.5, 2*time.Second)
	start := time.Now()
	err = fault.Run(context.Background(), s, client.NewInjector(c.cfg), start, func(a fault.Action, err error) {
		if err != nil {
			t.Errorf("%v", err)
		} else {
			t.Logf("%6.2fs %v", time.Since(start).Seconds(), a)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // healed: clients keep going
	ops := rec.Stop()

	rep, err := checker.Linearizable(context.Background(), ops, checker.Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("linearizability: %s", rep.String())
	if rep.Verdict != checker.Ok {
		t.Fatal("history not linearizable")
	}

	c.leader(t, c.cfg.IDs())
	time.Sleep(300 * time.Millisecond) // followers learn the last commits
	replicas := map[string]map[string][]store.Version{}
	for _, id := range c.cfg.IDs() {
		replicas[id.String()] = map[string][]store.Version{}
		for k := range keys {
			key := "h" + strconv.Itoa(k)
			h, err := c.client(id, "").HistoryDetail(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			replicas[id.String()][key] = h
		}
	}
	cons := checker.Consensus(replicas, ops)
	t.Logf("agreement: %s", cons.String())
	if !cons.Ok() {
		t.Fatal("replicas disagree")
	}
	ok := 0
	for _, op := range ops {
		if op.Error == "" {
			ok++
		}
	}
	if ok < 100 {
		t.Fatalf("only %d of %d operations succeeded", ok, len(ops))
	}
}
