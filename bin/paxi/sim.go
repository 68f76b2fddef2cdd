package main

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/ailidani/paxi-style/fault"
	"github.com/ailidani/paxi-style/internal/simcheck"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols"
	"github.com/ailidani/paxi-style/sim"
)

func runSim(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sim", "Runs a protocol in the deterministic simulator for many seeds. Each seed picks its own fault\nmix (message loss, duplication, delays, partitions, crashes, slow and flaky links) and client\nworkload; the run has a safety phase with faults and a liveness phase without, and is then checked:\nlinearizability of the client history, agreement and convergence of the replicas, no invariant\npanic, every request served after healing. Prints one line per failing seed (replay it with -seed)\nand a summary; exits non-zero if any seed failed.", stderr)
	protocol := fs.String("protocol", "paxos", "protocol to simulate ("+fmt.Sprint(protocols.Names())+")")
	seeds := fs.Int("seeds", 100, "number of seeds to run")
	first := fs.Uint64("first", 1, "first seed")
	seed := fs.Uint64("seed", 0, "run only this seed and print its full report (overrides -seeds)")
	nodes := fs.Int("nodes", 0, "cluster size (0: 3 or 5, chosen by the seed)")
	zones := fs.Int("zones", 1, "spread the nodes over this many zones")
	faults := fs.String("faults", "swarm", "fault mix: swarm (chosen by the seed) or none")
	schedule := fs.String("schedule", "", "fault schedule `file` (text or JSON) applied in the safety phase, on top of -faults")
	safety := fs.Duration("safety", 10*time.Second, "virtual length of the safety phase (faults on)")
	liveness := fs.Duration("liveness", 10*time.Second, "virtual length of the liveness phase (faults healed)")
	wan := fs.String("wan", "", "WAN preset for the zones' round-trip times (e.g. aws5; use with -zones)")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "seeds run in parallel")
	timeout := fs.Duration("check-timeout", 30*time.Second, "linearizability check time limit per seed (over it the seed fails as Unknown)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	p, err := protocols.Lookup(*protocol)
	if err != nil {
		return err
	}
	if *faults != "swarm" && *faults != "none" {
		return fmt.Errorf("-faults %q: want swarm or none", *faults)
	}
	if *seeds < 1 || *workers < 1 || *nodes < 0 || *zones < 1 {
		return errors.New("-seeds, -workers and -zones must be positive, -nodes not negative")
	}
	var sched fault.Schedule
	if *schedule != "" {
		if sched, err = fault.Load(*schedule); err != nil {
			return err
		}
	}
	list := simcheck.Seeds(*seed, *first, *seeds)
	one := func(s uint64) (*simcheck.Outcome, error) {
		n := *nodes
		if n == 0 {
			n = simcheck.NodesFor(s)
		}
		cfg := simcheck.Config(n, *zones)
		simcheck.Vary(p.Name, cfg, s)
		if *wan != "" {
			cfg.WAN = &paxi.WAN{Preset: *wan}
		}
		if err := protocols.Validate(cfg); err != nil {
			return nil, err
		}
		opts := sim.RandomOptions(s)
		if *faults == "none" {
			opts.Network, opts.Faults = sim.LAN(s), sim.Faults{}
		}
		opts.Schedule, opts.Safety, opts.Liveness = sched, *safety, *liveness
		return simcheck.Run(cfg, p, opts, *timeout)
	}

	// Each seed is reduced to what the report needs as soon as it is
	// checked: a run's history, stores and replicas are large, and a
	// thousand of them do not fit in memory.
	type seedResult struct {
		failed           bool
		summary, report  string
		options          string
		ops              int
		virtual          time.Duration
		events, messages uint64
		err              error
	}
	start := time.Now()
	results := make([]seedResult, len(list))
	simcheck.Parallel(len(list), *workers, func(i int) {
		o, err := one(list[i])
		if err != nil {
			results[i].err = err
			return
		}
		r := &results[i]
		r.failed, r.summary, r.options = o.Failed(), o.Summary(), o.Result.Options.String()
		if r.failed && *seed != 0 {
			r.report = o.Report()
		}
		r.ops, r.virtual = len(o.Result.History), o.Result.Virtual
		r.events, r.messages = o.Result.Stats.Events, o.Result.Stats.Messages
	})

	var failed, ops int
	var virtual time.Duration
	var events, messages uint64
	for _, r := range results {
		if r.err != nil {
			return r.err
		}
		ops += r.ops
		virtual += r.virtual
		events += r.events
		messages += r.messages
		if r.failed {
			failed++
			fmt.Fprintln(stdout, r.summary)
		}
		if *seed != 0 {
			fmt.Fprintf(stdout, "options: %s\n", r.options)
			fmt.Fprint(stdout, r.report)
		}
	}
	wall := time.Since(start)
	fmt.Fprintf(stdout, "%s: %d seeds, %d failed; %v simulated in %v (%.0fx); %d events, %d messages, %d client operations checked\n",
		p.Name, len(list), failed, virtual.Round(time.Second), wall.Round(time.Millisecond),
		virtual.Seconds()/wall.Seconds(), events, messages, ops)
	if failed > 0 {
		return fmt.Errorf("%d of %d seeds failed", failed, len(list))
	}
	return nil
}
