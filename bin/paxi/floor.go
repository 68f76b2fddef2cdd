package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/ailidani/paxi-style/benchmark"
	"github.com/ailidani/paxi-style/benchmark/target"
	"github.com/ailidani/paxi-style/floor"
	"github.com/ailidani/paxi-style/paxi"
)

const floorDescription = `Measures the floor of this machine: runs the configured workload (the benchmark section of
the configuration and the same flags as paxi bench) against an unreplicated in-memory store served
in this process behind the same REST handler and the same native protocol server as a node, one
after the other, and prints both rows. No system driven through a client path can beat that
path's floor here, so results are best read as fractions of it.

With -cluster it then benchmarks the running cluster (-config or -endpoints, -target, -client, -at,
as paxi bench) with the same workload and prints its row and its ratio to the floor of the same
client path (REST to REST, native to native).

With -o DIR it writes each run's files (latency.csv, history.jsonl, stats.csv, stats.json) into
DIR/floor-rest, DIR/floor-native and DIR/<cluster label>.`

func runFloor(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("floor", floorDescription, stderr)
	var cf clusterFlags
	var bf benchFlags
	cf.register(fs)
	bf.register(fs)
	withCluster := fs.Bool("cluster", false, "also benchmark the running cluster and print its ratio to the floor")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	bf.parsed(fs)
	if !*withCluster {
		for _, name := range []string{"client", "target", "endpoints", "at"} {
			if bf.set[name] {
				return fmt.Errorf("-%s chooses how the cluster is reached: add -cluster (the floor is measured through both client paths)", name)
			}
		}
	}
	cfg, err := loadBench(&cf, &bf, nil)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fl, err := floor.Start(cfg, logger)
	if err != nil {
		return err
	}
	defer fl.Close()

	var rows []floorRow
	for _, path := range target.Clients {
		env, err := floorEnv(cfg, &bf, fl, path, stderr)
		if err != nil {
			return err
		}
		res, cpu, err := runFloorEnv(ctx, env, &bf, stderr)
		if err != nil {
			return err
		}
		rows = append(rows, floorRow{path: path, s: res, cpu: cpu})
		if ctx.Err() != nil {
			break
		}
	}
	fl.Close() // the cluster run has the machine to itself
	if *withCluster && ctx.Err() == nil {
		env, err := newBenchEnv(ctx, cfg, &bf, stderr)
		if err != nil {
			return err
		}
		res, cpu, err := runFloorEnv(ctx, env, &bf, stderr)
		if err != nil {
			return err
		}
		path := bf.client
		if bf.target != target.Paxi {
			path = target.ClientREST // every other target is reached over HTTP
		}
		rows = append(rows, floorRow{path: path, s: res, cpu: cpu, cluster: true})
	}
	return printFloor(stdout, rows)
}

// floorEnv is a benchmark environment whose every client goes to the
// floor through the given client path.
func floorEnv(cfg *paxi.Config, bf *benchFlags, fl *floor.Floor, path string, stderr io.Writer) (*benchEnv, error) {
	clientID := fmt.Sprintf("floor-%d", bf.seed)
	var db benchmark.DB
	var err error
	switch path {
	case target.ClientNative:
		db, err = target.NewNative(fl.NativeAddr, clientID, nativeConns, bf.timeout)
	default:
		db = target.NewPaxi(fl.RESTURL, clientID, bf.timeout)
	}
	if err != nil {
		return nil, err
	}
	fbf := *bf
	fbf.target, fbf.client = target.Paxi, path
	return &benchEnv{
		cfg:    cfg,
		bf:     &fbf,
		eps:    []endpoint{{name: "floor", zone: 1, url: fl.RESTURL}},
		assign: func(int) int { return 0 },
		where:  "in this process",
		dbs:    []benchmark.DB{db},
		label:  "floor-" + path,
		stderr: stderr,
	}, nil
}

// runFloorEnv runs one benchmark of paxi floor and writes its files.
func runFloorEnv(ctx context.Context, env *benchEnv, bf *benchFlags, stderr io.Writer) (benchmark.Summary, cpuUsage, error) {
	b := env.cfg.Benchmark
	env.describe(stderr, b, fmt.Sprint(b.Concurrency))
	res, err := env.run(ctx, b, bf.out != "")
	if err != nil {
		return benchmark.Summary{}, cpuUsage{}, err
	}
	s := res.Summary()
	if res.Interrupted {
		fmt.Fprintf(stderr, "interrupted after %.1f s\n", res.Duration.Seconds())
	}
	if bf.out != "" {
		files, err := writeResult(filepath.Join(bf.out, env.label), res, s)
		if err != nil {
			return s, env.cpu, err
		}
		fmt.Fprintf(stderr, "wrote %s\n", strings.Join(files, ", "))
	}
	return s, env.cpu, nil
}

// floorRow is one line of paxi floor's table.
type floorRow struct {
	path    string // client path
	s       benchmark.Summary
	cpu     cpuUsage
	cluster bool
}

// printFloor prints the floor rows, then the cluster's with its ratio to
// the floor of its client path.
func printFloor(w io.Writer, rows []floorRow) error {
	floorOf := map[string]float64{}
	for _, r := range rows {
		if !r.cluster {
			floorOf[r.path] = r.s.Overall.Throughput
		}
	}
	// Numbers right-aligned, labels left-aligned (padded to one width).
	width := len("label")
	for _, r := range rows {
		width = max(width, len(r.s.Label))
	}
	var tb bytes.Buffer
	tw := tabwriter.NewWriter(&tb, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tclient\tclients\tops\terrors\tops/s\tp50_ms\tp99_ms\tcores\tcpu_us/op\tof_floor\t\n", width, "label")
	for _, r := range rows {
		o := r.s.Overall
		ratio := "-"
		if f := floorOf[r.path]; f > 0 {
			ratio = fmt.Sprintf("%.3f", o.Throughput/f)
		}
		fmt.Fprintf(tw, "%-*s\t%s\t%d\t%d\t%d\t%.0f\t%.3f\t%.3f\t%.2f\t%.1f\t%s\t\n", width, r.s.Label, r.path, r.s.Concurrency,
			o.Ops, o.Errors, o.Throughput, ms(o.P50), ms(o.P99), r.cpu.cores(), micros(r.cpu.perOp(o.Ops)), ratio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, l := range strings.SplitAfter(tb.String(), "\n") {
		if _, err := io.WriteString(w, strings.TrimPrefix(l, "  ")); err != nil {
			return err
		}
	}
	for _, r := range rows {
		if r.cluster {
			fmt.Fprintf(w, "%s: %s\n", r.s.Label, r.cpu)
		}
	}
	for _, r := range rows {
		if r.s.FirstError != "" {
			fmt.Fprintf(w, "%s: first error: %s\n", r.s.Label, r.s.FirstError)
		}
	}
	return nil
}
