package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"

	"github.com/ailidani/paxi-style/benchmark"
	"github.com/ailidani/paxi-style/benchmark/target"
	"github.com/ailidani/paxi-style/node"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols"
	"github.com/ailidani/paxi-style/transport"
	"github.com/ailidani/paxi-style/transport/rdma"
)

const localDescription = `Starts a cluster on loopback inside this process (every node with its own transport
and REST API on real ports), waits for a leader, runs the benchmark against it and prints
throughput and latency percentiles. Without -config it uses the built-in 3-node Multi-Paxos
configuration (transport ports from 1735, REST ports from 8081).

With -sweep it sweeps instead: 1, 2, 4, ... clients (or -levels), each level for -T, until the
cluster saturates; it prints one row per level and the saturation point, and with -o DIR
writes DIR/sweep.csv and the latency-vs-throughput plot DIR/sweep.png (or -plot FILE).
Without -sweep, -o DIR writes the run's latency file, history and statistics.`

func runLocal(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("local", localDescription, stderr)
	var cf clusterFlags
	var bf benchFlags
	var sf sweepFlags
	cf.register(fs)
	bf.register(fs)
	sf.register(fs)
	n := fs.Int("n", 0, "number of nodes, replacing the config's node list with a loopback one (0: keep the config's)")
	zones := fs.Int("zones", 1, "with -n: spread the nodes over this many zones")
	port := fs.Int("port", 1735, "with -n or the built-in configuration: first transport port")
	httpPort := fs.Int("http-port", 8081, "with -n or the built-in configuration: first REST port")
	keep := fs.Bool("keep", false, "keep the cluster running after the benchmark until interrupted (curl it)")
	sweep := fs.Bool("sweep", false, "sweep the number of clients up to saturation instead of one run (see the sweep flags)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process (nodes and clients) during the benchmark to `file`, for go tool pprof")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	bf.parsed(fs)
	if bf.target != target.Paxi || bf.endpoints != "" {
		return errors.New("-target and -endpoints are for paxi bench: paxi local benchmarks the cluster it starts")
	}
	var opt benchmark.SweepOptions
	if *sweep {
		var err error
		if opt, err = sf.options(); err != nil {
			return err
		}
		if bf.set["c"] {
			return errors.New("-c has no effect with -sweep: give the levels with -levels (or -max-c)")
		}
	} else {
		for _, name := range []string{"levels", "max-c", "gain", "patience", "latency-factor", "max-p99", "max-errors", "exhaustive", "plot"} {
			if bf.set[name] {
				return fmt.Errorf("-%s is a sweep flag: add -sweep", name)
			}
		}
	}
	if (*port != 1735 || *httpPort != 8081) && *n == 0 && cf.config == "" {
		*n = 3 // moving the built-in cluster's ports keeps its 3 nodes
	}
	cfg, err := loadBench(&cf, &bf, func(c *paxi.Config) {
		if *n > 0 {
			c.SetLocal(*n, *zones, *port, *httpPort)
		}
		if cf.logLevel == "" {
			c.LogLevel = "warn" // the benchmark table is the output
		}
	})
	if err != nil {
		return err
	}
	stopCluster, err := startCluster(cfg, stderr)
	if err != nil {
		return err
	}
	defer stopCluster()
	fmt.Fprintf(stderr, "started %d %s nodes over %s: REST at %v\n", len(cfg.IDs()), cfg.Protocol, cfg.Transport, restList(cfg))
	if len(cfg.NativeAddrs) > 0 {
		fmt.Fprintf(stderr, "native protocol at %v\n", nativeList(cfg))
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	// An interrupt ends the benchmark early, with its results so far.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	if *sweep {
		err = sweepCluster(ctx, cfg, &bf, &sf, opt, stdout, stderr)
	} else {
		err = benchOnce(ctx, cfg, &bf, stdout, stderr)
	}
	stop()
	if err != nil {
		return err
	}
	if *keep {
		fmt.Fprintf(stderr, "cluster keeps running; interrupt to stop\n")
		waitSignal()
	}
	return nil
}

func restList(cfg *paxi.Config) []string {
	var out []string
	for _, id := range cfg.IDs() {
		out = append(out, cfg.HTTPAddrs[id])
	}
	return out
}

func levelOf(s string) slog.Level {
	var l slog.Level
	if l.UnmarshalText([]byte(s)) != nil {
		return slog.LevelInfo
	}
	return l
}

// startCluster starts every node of cfg in this process, sharing one
// in-process channel network and, for protocols that replicate with
// one-sided verbs under rdma.backend "mem", one emulated RDMA fabric; it
// returns the function that stops them all (paxi local, paxi wan).
func startCluster(cfg *paxi.Config, stderr io.Writer) (stop func(), err error) {
	p, err := protocols.Lookup(cfg.Protocol)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: levelOf(cfg.LogLevel)}))
	chanNet := transport.NewChanNetwork()
	var nodes []*node.Node
	var fabric *rdma.Mem
	stop = func() {
		for _, nd := range nodes {
			nd.Close()
		}
		if fabric != nil {
			fabric.Close()
		}
	}
	if p.RDMA && cfg.RDMA.BackendName() == paxi.RDMAMem {
		if fabric, err = node.NewMemFabric(cfg); err != nil {
			return nil, err
		}
	}
	for _, id := range cfg.IDs() {
		nd, err := node.New(cfg, id, p, node.Options{Logger: logger, ChanNet: chanNet, RDMAFabric: fabric})
		if err != nil {
			stop()
			return nil, err
		}
		nodes = append(nodes, nd)
	}
	for _, nd := range nodes {
		nd.Run()
	}
	return stop, nil
}
