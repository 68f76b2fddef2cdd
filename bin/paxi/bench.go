package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ailidani/paxi-style/benchmark"
	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/paxi"
)

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", "Benchmarks a running cluster (for example one started with paxi server) through its REST API\nand prints throughput and latency percentiles. The workload comes from the benchmark section of\nthe configuration, adjusted by the flags.", stderr)
	var cf clusterFlags
	var bf benchFlags
	cf.register(fs)
	bf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg, err := cf.load(func(c *paxi.Config) { bf.apply(&c.Benchmark) })
	if err != nil {
		return err
	}
	res, err := benchCluster(context.Background(), cfg, &bf, stderr)
	if err != nil {
		return err
	}
	printResult(stdout, cfg, res)
	return nil
}

// restDB adapts the REST client to the benchmark.
type restDB struct{ c *client.REST }

func (d restDB) Read(ctx context.Context, key int) ([]byte, error) {
	r, err := d.c.Get(ctx, benchmark.KeyName(key))
	if errors.Is(err, client.ErrNotFound) {
		return nil, nil
	}
	return r.Value, err
}

func (d restDB) Write(ctx context.Context, key int, value []byte) error {
	_, err := d.c.Put(ctx, benchmark.KeyName(key), value)
	return err
}

// waitLeader polls /status on every node until one reports a leader that
// the others agree on, or the deadline passes.
func waitLeader(ctx context.Context, cfg *paxi.Config, timeout time.Duration) (paxi.ID, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		var leader paxi.ID
		agreed := true
		for _, id := range cfg.IDs() {
			st, err := client.NewREST(cfg.HTTPAddrs[id], "", time.Second).Status(ctx)
			switch {
			case err != nil:
				last, agreed = err, false
			case st.Ballot == "":
				return 0, nil // leaderless protocol: nothing to wait for
			case st.Leader == 0 || (leader != 0 && st.Leader != leader):
				last, agreed = fmt.Errorf("node %v: leader %v", id, st.Leader), false
			default:
				leader = st.Leader
			}
		}
		if agreed {
			return leader, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("no agreed leader after %v: %v", timeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// benchCluster runs the configured benchmark against the cluster's REST APIs.
func benchCluster(ctx context.Context, cfg *paxi.Config, bf *benchFlags, log io.Writer) (benchmark.Result, error) {
	leader, err := waitLeader(ctx, cfg, 15*time.Second)
	if err != nil {
		return benchmark.Result{}, err
	}
	var targets []paxi.ID
	switch bf.at {
	case "all":
		targets = cfg.IDs()
	case "leader":
		if leader == 0 {
			targets = cfg.IDs()[:1]
		} else {
			targets = []paxi.ID{leader}
		}
	default:
		id, err := paxi.ParseID(bf.at)
		if err != nil {
			return benchmark.Result{}, fmt.Errorf("-at: %w", err)
		}
		if _, ok := cfg.HTTPAddrs[id]; !ok {
			return benchmark.Result{}, fmt.Errorf("-at %v: no such node (nodes: %v)", id, cfg.IDs())
		}
		targets = []paxi.ID{id}
	}
	b := cfg.Benchmark
	what := fmt.Sprintf("%v s", time.Duration(b.T).Seconds())
	if b.T == 0 {
		what = fmt.Sprintf("%d ops", b.N)
	}
	fmt.Fprintf(log, "benchmark: %s, %d clients at %v, %d keys (%s), %.0f%% writes of %d bytes\n",
		what, b.Concurrency, targets, b.K, b.Distribution, 100*b.W, b.Size)
	// One HTTP connection pool per target node, shared by its clients.
	pools := make(map[paxi.ID]*client.REST)
	return benchmark.Run(ctx, b, bf.seed, func(i int) (benchmark.DB, error) {
		t := targets[i%len(targets)]
		if pools[t] == nil {
			pools[t] = client.NewREST(cfg.HTTPAddrs[t], fmt.Sprintf("bench-%d", bf.seed), bf.timeout)
		}
		return restDB{pools[t]}, nil
	})
}

func printResult(w io.Writer, cfg *paxi.Config, r benchmark.Result) {
	l := r.Latency
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }
	fmt.Fprintf(w, "protocol   nodes  clients  ops      errors  seconds  ops/s     mean_ms  p50_ms  p95_ms  p99_ms  p99.9_ms  max_ms\n")
	fmt.Fprintf(w, "%-10s %-6d %-8d %-8d %-7d %-8.2f %-9.0f %-8s %-7s %-7s %-7s %-9s %s\n",
		cfg.Protocol, cfg.N(), r.Concurrency, r.Ops, r.Errors, r.Duration.Seconds(), r.Throughput,
		ms(l.Mean), ms(l.P50), ms(l.P95), ms(l.P99), ms(l.P999), ms(l.Max))
	if r.FirstError != nil {
		fmt.Fprintf(w, "first error: %v\n", r.FirstError)
	}
}
