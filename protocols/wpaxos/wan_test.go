package wpaxos_test

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/internal/simcheck"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols"
	"github.com/ailidani/paxi-style/protocols/wpaxos"
	"github.com/ailidani/paxi-style/sim"
)

var (
	wanSeeds = flag.Int("wan.seeds", 4, "seeds of TestSimulateWAN (the closing note runs 1000)")
	wanFirst = flag.Uint64("wan.first", 1, "first seed of TestSimulateWAN")
	wanSeed  = flag.Uint64("wan.seed", 0, "replay only this seed of TestSimulateWAN")
)

// wanConfig is the WAN cluster of a seed: five regions of the aws5 preset
// with one node each, or its first three regions with three nodes each;
// every fz the layout allows and every migration policy.
func wanConfig(seed uint64) *paxi.Config {
	layout := [][2]int{{5, 1}, {3, 3}}[seed%2]
	cfg := config(layout[0], layout[1], int(seed/2)%min(layout[0], 3), paxi.WPaxosPolicies[(seed/6)%3])
	cfg.WAN = &paxi.WAN{Preset: "aws5"}
	return cfg
}

// The seeded simulation over a WAN: every seed's swarm of faults (loss,
// duplication, long tails, partitions, crashes with recovery, slow and
// flaky links) on top of the aws5 round-trip times between zones, then the
// checks of TestSimulate: linearizability, agreement of the stores and of
// the objects' logs (Check), convergence and liveness after healing.
func TestSimulateWAN(t *testing.T) {
	seeds := simcheck.Seeds(*wanSeed, *wanFirst, *wanSeeds)
	ops, failed := 0, 0
	for _, seed := range seeds {
		cfg := wanConfig(seed)
		if err := protocols.Validate(cfg); err != nil {
			t.Fatal(err)
		}
		opts := sim.RandomOptions(seed)
		opts.Workload.Timeout = 4 * time.Second // a steal across the WAN, then a retry
		o, err := simcheck.Run(cfg, wpaxos.Protocol(), opts, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if o.Failed() {
			failed++
			t.Errorf("%s (zones %v, %+v)\nreplay: go test ./protocols/wpaxos -run TestSimulateWAN -wan.seed=%d\n%s",
				o.Summary(), cfg.Zones(), cfg.WPaxos, seed, o.Report())
		}
		ops += len(o.Result.History)
	}
	t.Logf("%d WAN seeds (from %d), %d client operations checked, %d violations", len(seeds), seeds[0], ops, failed)
}

func ExampleWPaxos_Owner() {
	cfg := config(3, 1, 0, paxi.WPaxosNone)
	c, _ := sim.New(cfg, wpaxos.Protocol(), sim.LAN(1))
	c.Await(time.Second, c.Submit(paxi.MustID("2.1"), put("x", "1")))
	c.RunFor(time.Second)
	fmt.Println(c.Replica(paxi.MustID("3.1")).(*wpaxos.WPaxos).Owner("x"))
	// Output: 2.1
}

// One seed, one run: the same seed gives the same events, faults and
// crashes included (no map order or other randomness leaks into WPaxos).
func TestSameSeedSameRun(t *testing.T) {
	run := func() (sim.Stats, string) {
		cfg := wanConfig(7)
		res, err := sim.Run(cfg, wpaxos.Protocol(), sim.RandomOptions(7))
		if err != nil {
			t.Fatal(err)
		}
		return res.Stats, fmt.Sprint(res.History, res.Trace)
	}
	s1, h1 := run()
	s2, h2 := run()
	if s1 != s2 || h1 != h2 {
		t.Fatalf("two runs of seed 7 differ: %+v vs %+v", s1, s2)
	}
}
