package mu_test

import (
	"flag"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/internal/simcheck"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/mu"
	"github.com/ailidani/paxi-style/sim"
)

var (
	seeds     = flag.Int("mu.seeds", 10, "seeds of the random simulation in TestRandomFaults")
	firstSeed = flag.Uint64("mu.first", 1, "first seed of TestRandomFaults")
)

// Random fault mixes (the table-wide TestSimulate runs 200 seeds): the
// history is linearizable, the replicas agree and converge, nothing
// panics.
func TestRandomFaults(t *testing.T) {
	for s := range uint64(*seeds) {
		seed := *firstSeed + s
		cfg := simcheck.Config(simcheck.NodesFor(seed), 1)
		o, err := simcheck.Run(cfg, mu.Protocol(), sim.RandomOptions(seed), 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if o.Failed() {
			t.Fatalf("seed %d: %s\n%s", seed, o.Summary(), o.Report())
		}
	}
}

var _ = paxi.Put
