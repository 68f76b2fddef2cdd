package protocols_test

import (
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/internal/simcheck"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols"
	"github.com/ailidani/paxi-style/protocols/paxos"
	"github.com/ailidani/paxi-style/sim"
)

var (
	simSeeds = flag.Int("sim.seeds", 200, "seeds per protocol in TestSimulate (RDMA protocols: a quarter unless this flag is given; at most 50 with -short)")
	simSeed  = flag.Uint64("sim.seed", 0, "replay only this seed in TestSimulate")
	simFirst = flag.Uint64("sim.first", 1, "first seed of the sweep in TestSimulate")
)

// seeds are the seeds TestSimulate runs for p. Protocols on the emulated
// RDMA fabric cost four to five times as much per seed (every one-sided
// operation is several simulator events), so they get a quarter of the
// default sweep unless -sim.seeds is given; their full sweeps are in the
// closing notes, and -sim.seeds 200 runs them.
func seeds(t *testing.T, p paxi.Protocol) []uint64 {
	if *simSeed != 0 {
		return []uint64{*simSeed}
	}
	n := *simSeeds
	if p.RDMA && !flagSet("sim.seeds") {
		n = max(n/4, 1)
	}
	if testing.Short() && n > 50 {
		n = 50
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = *simFirst + uint64(i)
	}
	return out
}

// setFlags are the flags given on the command line.
var setFlags = map[string]bool{}

func flagSet(name string) bool { return setFlags[name] }

// Every protocol in the table passes the seeded simulation: a swarm-chosen
// fault mix per seed, clients on few keys, a safety phase and a liveness
// phase; then linearizability of the history, agreement of the replicas,
// convergence, and no invariant panic. A failure prints the seed to replay
// with -sim.seed.
func TestSimulate(t *testing.T) {
	flag.Visit(func(f *flag.Flag) { setFlags[f.Name] = true })
	for _, p := range protocols.All() {
		t.Run(p.Name, func(t *testing.T) {
			ops := 0
			for _, seed := range seeds(t, p) {
				cfg := simcheck.Config(simcheck.NodesFor(seed), 1)
				simcheck.Vary(p.Name, cfg, seed)
				o, err := simcheck.Run(cfg, p, sim.RandomOptions(seed), 30*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if o.Failed() {
					t.Errorf("%s\nreplay: go test ./protocols -run 'TestSimulate/%s' -sim.seed=%d\n%s", o.Summary(), p.Name, seed, o.Report())
				}
				ops += len(o.Result.History)
			}
			t.Logf("%d seeds, %d client operations checked", len(seeds(t, p)), ops)
		})
	}
}

// staleReads is Multi-Paxos broken on purpose: a follower answers reads
// from its own store instead of ordering them through the log. The
// simulation and the checker must catch it.
type staleReads struct {
	paxi.Replica
	env paxi.Env
}

func (s staleReads) Step(from paxi.ID, m paxi.Message) error {
	if r, ok := m.(paxi.Request); ok && r.Command.Op == paxi.Get && r.Node == s.env.ID() {
		if l, ok := s.Replica.(interface{ Leader() paxi.ID }); ok && l.Leader() != s.env.ID() {
			res := s.env.Store().Apply(r.Command)
			s.env.Reply(r, paxi.NewReply(r, res, -1, 0))
			return nil
		}
	}
	return s.Replica.Step(from, m)
}

func TestSimulationCatchesStaleReads(t *testing.T) {
	broken := paxos.Protocol()
	broken.Name = "paxos-stale-reads"
	broken.New = func(env paxi.Env) (paxi.Replica, error) {
		r, err := paxos.New(env)
		return staleReads{Replica: r, env: env}, err
	}
	broken.Recover = nil
	for seed := uint64(1); seed <= 50; seed++ {
		o, err := simcheck.Run(simcheck.Config(3, 1), broken, sim.RandomOptions(seed), 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if o.Failed() {
			t.Logf("caught at seed %d: %s", seed, o.Summary())
			if len(o.Linearizable.Anomalies) > 0 {
				t.Logf("first anomaly: %v", o.Linearizable.Anomalies[0])
			}
			return
		}
	}
	t.Fatal("50 seeds of a Paxos whose followers answer reads locally passed every check")
}

// A protocol's own Check runs after the generic checks and can fail a seed.
func TestSimulationRunsProtocolCheck(t *testing.T) {
	p := paxos.Protocol()
	var seen int
	p.Check = func(replicas map[paxi.ID]paxi.Replica) error {
		seen = len(replicas)
		return errors.New("planted failure")
	}
	o, err := simcheck.Run(simcheck.Config(3, 1), p, sim.RandomOptions(1), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if seen != 3 || !o.Failed() || !strings.Contains(o.Summary(), "planted failure") {
		t.Fatalf("check saw %d replicas; summary %q", seen, o.Summary())
	}
}
