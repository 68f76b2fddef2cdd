package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/ailidani/paxi-style/node"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols"
	"github.com/ailidani/paxi-style/transport"
)

func runLocal(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("local", "Starts a cluster on loopback inside this process (every node with its own transport\nand REST API on real ports), waits for a leader, runs the benchmark against it and prints\nthroughput and latency percentiles. Without -config it uses the built-in 3-node Multi-Paxos\nconfiguration (transport ports from 1735, REST ports from 8081).", stderr)
	var cf clusterFlags
	var bf benchFlags
	cf.register(fs)
	bf.register(fs)
	n := fs.Int("n", 0, "number of nodes, replacing the config's node list with a loopback one (0: keep the config's)")
	zones := fs.Int("zones", 1, "with -n: spread the nodes over this many zones")
	port := fs.Int("port", 1735, "with -n: first transport port")
	httpPort := fs.Int("http-port", 8081, "with -n: first REST port")
	keep := fs.Bool("keep", false, "keep the cluster running after the benchmark until interrupted (curl it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg, err := cf.load(func(c *paxi.Config) {
		if *n > 0 {
			c.SetLocal(*n, *zones, *port, *httpPort)
		}
		if cf.logLevel == "" {
			c.LogLevel = "warn" // the benchmark table is the output
		}
		bf.apply(&c.Benchmark)
	})
	if err != nil {
		return err
	}
	p, err := protocols.Lookup(cfg.Protocol)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: levelOf(cfg.LogLevel)}))
	chanNet := transport.NewChanNetwork()
	var nodes []*node.Node
	defer func() {
		for _, nd := range nodes {
			nd.Close()
		}
	}()
	for _, id := range cfg.IDs() {
		nd, err := node.New(cfg, id, p, node.Options{Logger: logger, ChanNet: chanNet})
		if err != nil {
			return err
		}
		nodes = append(nodes, nd)
	}
	for _, nd := range nodes {
		nd.Run()
	}
	fmt.Fprintf(stderr, "started %d %s nodes over %s: REST at %v\n", len(nodes), cfg.Protocol, cfg.Transport, restList(cfg))
	res, err := benchCluster(context.Background(), cfg, &bf, stderr)
	if err != nil {
		return err
	}
	printResult(stdout, cfg, res)
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
