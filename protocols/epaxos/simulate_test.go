package epaxos_test

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/internal/simcheck"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/epaxos"
	"github.com/ailidani/paxi-style/sim"
)

var (
	simSeeds = flag.Int("epaxos.seeds", 20, "seeds in TestSimulateEPaxos (protocols.TestSimulate runs 200 more, with the same checks)")
	simSeed  = flag.Uint64("epaxos.seed", 0, "replay only this seed in TestSimulateEPaxos")
	simFirst = flag.Uint64("epaxos.first", 1, "first seed of TestSimulateEPaxos")
)

// registering returns the EPaxos protocol entry with New and Recover
// wrapped so that the replicas of one run are recorded by node, the latest
// incarnation last: sim.Run returns only the stores, and the EPaxos checks
// need the replicas.
func registering() (paxi.Protocol, map[paxi.ID]*epaxos.EPaxos) {
	reg := map[paxi.ID]*epaxos.EPaxos{}
	p := epaxos.Protocol()
	p.New = func(env paxi.Env) (paxi.Replica, error) {
		r, err := epaxos.New(env)
		if err == nil {
			reg[env.ID()] = r.(*epaxos.EPaxos)
		}
		return r, err
	}
	p.Recover = func(env paxi.Env, d any) (paxi.Replica, error) {
		r, err := epaxos.Recover(env, d)
		if err == nil {
			reg[env.ID()] = r.(*epaxos.EPaxos)
		}
		return r, err
	}
	return p, reg
}

// simulateOne runs one seed of the swarm simulation and checks it: the
// generic checks of simcheck (panics, liveness, convergence,
// linearizability, store agreement) and the EPaxos ones of CheckAgreement.
func simulateOne(seed uint64, nodes int) (string, int, epaxos.Stats, error) {
	p, reg := registering()
	o, err := simcheck.Run(simcheck.Config(nodes, 1), p, sim.RandomOptions(seed), 30*time.Second)
	if err != nil {
		return "", 0, epaxos.Stats{}, err
	}
	var st epaxos.Stats
	for _, r := range reg {
		s := r.Stats()
		st.FastPath += s.FastPath
		st.SlowPath += s.SlowPath
		st.Recoveries += s.Recoveries
		st.RecoveredAccepted += s.RecoveredAccepted
		st.RecoveredOriginal += s.RecoveredOriginal
		st.RecoveredRestart += s.RecoveredRestart
		st.RecoveredNoop += s.RecoveredNoop
		st.Executed += s.Executed
	}
	var fail []string
	if o.Failed() {
		fail = append(fail, o.Report())
	}
	if o.Result.Panic == "" {
		if err := epaxos.CheckAgreement(reg); err != nil {
			fail = append(fail, fmt.Sprintf("seed=%d nodes=%d EPaxos check: %v", seed, nodes, err))
		}
	}
	if len(fail) == 0 {
		return "", len(o.Result.History), st, nil
	}
	return fmt.Sprint(fail), len(o.Result.History), st, nil
}

// Every seed of the swarm simulation passes the generic checks and the
// EPaxos-specific ones: attribute agreement, the dependency invariant and
// the same execution order of conflicting commands everywhere. The
// table-wide TestSimulate in package protocols runs the same checks (through
// Protocol.Check) over 200 seeds; this one adds the fast/slow/recovery path
// statistics, and takes -epaxos.seeds for long sweeps.
func TestSimulateEPaxos(t *testing.T) {
	n := *simSeeds
	if testing.Short() && n > 50 {
		n = 50
	}
	seeds := simcheck.Seeds(*simSeed, *simFirst, n)
	type result struct {
		fail string
		ops  int
		st   epaxos.Stats
		err  error
	}
	results := make([]result, len(seeds))
	simcheck.Parallel(len(seeds), 0, func(i int) {
		s := seeds[i]
		f, ops, st, err := simulateOne(s, simcheck.NodesFor(s))
		results[i] = result{f, ops, st, err}
	})
	ops := 0
	var st epaxos.Stats
	for i, r := range results {
		if r.err != nil {
			t.Fatal(r.err)
		}
		ops += r.ops
		st.FastPath += r.st.FastPath
		st.SlowPath += r.st.SlowPath
		st.Recoveries += r.st.Recoveries
		st.RecoveredAccepted += r.st.RecoveredAccepted
		st.RecoveredOriginal += r.st.RecoveredOriginal
		st.RecoveredRestart += r.st.RecoveredRestart
		st.RecoveredNoop += r.st.RecoveredNoop
		st.Executed += r.st.Executed
		if r.fail != "" {
			t.Errorf("seed %d failed; replay: go test ./protocols/epaxos -run TestSimulateEPaxos -epaxos.seed=%d\n%s", seeds[i], seeds[i], r.fail)
		}
	}
	t.Logf("%d seeds, %d client operations checked; %+v", len(seeds), ops, st)
}
