package apus

import (
	"testing"
	"time"

	"github.com/ailidani/paxi-style/internal/simcheck"
	"github.com/ailidani/paxi-style/sim"
)

func TestSmoke(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		cfg := simcheck.Config(simcheck.NodesFor(seed), 1)
		start := time.Now()
		o, err := simcheck.Run(cfg, Protocol(), sim.RandomOptions(seed), 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("seed %d: %s ops=%d events=%d wall=%v", seed, o.Summary(), len(o.Result.History), o.Result.Stats.Events, time.Since(start))
		if o.Failed() {
			t.Errorf("%s", o.Report())
		}
	}
}
