package wankeeper_test

import (
	"flag"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/internal/simcheck"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/wankeeper"
	"github.com/ailidani/paxi-style/sim"
)

var (
	wanSeeds = flag.Int("wan.seeds", 30, "seeds of TestSimulateWAN (the closing note runs 1000)")
	wanFirst = flag.Uint64("wan.first", 1, "first seed of TestSimulateWAN")
	wanSeed  = flag.Uint64("wan.seed", 0, "replay only this seed of TestSimulateWAN")
)

// wanRun is the configuration of one seed of the WAN sweep: 2 or 3 zones
// of 1 to 3 nodes on the aws5 round-trip times, master zone 1 or 2, tokens
// granted after 1 command (they move all the time) or 3.
func wanRun(seed uint64) (*paxi.Config, wankeeper.Options, sim.Options) {
	zones := 2 + int(seed%2)
	perZone := 1 + int(seed/2%3)
	cfg := simcheck.Config(zones*perZone, zones)
	cfg.WAN = &paxi.WAN{Preset: "aws5"}
	opts := wankeeper.Options{MasterZone: 1 + int(seed/6%2), Threshold: 1 + 2*int(seed/12%2)}
	so := sim.RandomOptions(seed)
	so.Workload.Timeout = 3 * time.Second
	return cfg, opts, so
}

// The seeded simulation with zones and WAN delays, one swarm-chosen fault
// mix per seed: linearizability, agreement, convergence, and Check (every
// replica learnt every zone log; one holder per token).
func TestSimulateWAN(t *testing.T) {
	var seeds []uint64
	if *wanSeed != 0 {
		seeds = []uint64{*wanSeed}
	} else {
		n := *wanSeeds
		if testing.Short() {
			n = min(n, 10)
		}
		for i := range n {
			seeds = append(seeds, *wanFirst+uint64(i))
		}
	}
	fails, ops := 0, 0
	for _, seed := range seeds {
		cfg, opts, so := wanRun(seed)
		o, err := simcheck.Run(cfg, wankeeper.ProtocolWith(opts), so, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		ops += len(o.Result.History)
		if o.Failed() {
			fails++
			t.Errorf("%s (zones=%d master=%d threshold=%d)\nreplay: go test ./protocols/wankeeper -run TestSimulateWAN -wan.seed=%d\n%s",
				o.Summary(), len(cfg.Zones()), opts.MasterZone, opts.Threshold, seed, o.Report())
		}
	}
	t.Logf("%d seeds, %d violations, %d client operations checked", len(seeds), fails, ops)
}
