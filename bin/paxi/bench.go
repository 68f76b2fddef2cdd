package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ailidani/paxi-style/benchmark"
	"github.com/ailidani/paxi-style/benchmark/plot"
	"github.com/ailidani/paxi-style/benchmark/target"
	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/paxi"
)

const benchDescription = `Benchmarks a running cluster (for example one started with paxi server) through its HTTP API
and prints throughput and latency percentiles, overall and per zone. The workload comes from the
benchmark section of the configuration, adjusted by the flags. -target also drives an original
Paxi cluster or etcd (v3 JSON gateway) with the same workload, given their -endpoints.

With -o DIR it writes DIR/latency.csv (one row per request), DIR/history.jsonl (the client
history, for the linearizability checker), DIR/stats.csv and DIR/stats.json.

"paxi bench sweep" (or "paxi sweep") raises the number of clients until the system saturates.`

func runBench(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "sweep" {
		return runSweep(args[1:], stdout, stderr)
	}
	fs := newFlagSet("bench", benchDescription, stderr)
	var cf clusterFlags
	var bf benchFlags
	var mf masterFlags
	cf.register(fs)
	bf.register(fs)
	mf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	bf.parsed(fs)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := mf.fetch(ctx, &cf); err != nil {
		return err
	}
	cfg, err := loadBench(&cf, &bf, nil)
	if err != nil {
		return err
	}
	return benchOnce(ctx, cfg, &bf, stdout, stderr)
}

const sweepDescription = `Sweeps a running cluster: runs the benchmark with 1, 2, 4, ... clients (or -levels) until
throughput stops rising (less than -gain for -patience levels in a row), median latency climbs
past -latency-factor times the first level's, p99 passes -max-p99, or too many requests fail. It
prints one row per level and the saturation point (the knee: the last level that still raised
throughput), and with -o DIR writes DIR/sweep.csv and the latency-vs-throughput plot
DIR/sweep.png (or -plot FILE). Each level runs for -T (or -N operations).`

func runSweep(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sweep", sweepDescription, stderr)
	var cf clusterFlags
	var bf benchFlags
	var sf sweepFlags
	var mf masterFlags
	cf.register(fs)
	bf.register(fs)
	sf.register(fs)
	mf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	bf.parsed(fs)
	opt, err := sf.options()
	if err != nil {
		return err
	}
	if bf.set["c"] {
		return errors.New("-c has no effect in a sweep: give the levels with -levels (or -max-c)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := mf.fetch(ctx, &cf); err != nil {
		return err
	}
	cfg, err := loadBench(&cf, &bf, nil)
	if err != nil {
		return err
	}
	return sweepCluster(ctx, cfg, &bf, &sf, opt, stdout, stderr)
}

// loadBench loads the configuration with the benchmark flags applied.
func loadBench(cf *clusterFlags, bf *benchFlags, adjust func(*paxi.Config)) (*paxi.Config, error) {
	if !slices.Contains(target.Kinds, bf.target) {
		return nil, fmt.Errorf("-target %q: must be one of %s", bf.target, strings.Join(target.Kinds, ", "))
	}
	if err := checkClient(bf); err != nil {
		return nil, err
	}
	var applyErr error
	cfg, err := cf.load(func(c *paxi.Config) {
		if adjust != nil {
			adjust(c)
		}
		applyErr = bf.apply(&c.Benchmark)
	})
	if applyErr != nil {
		return nil, applyErr
	}
	return cfg, err
}

// endpoint is one node the benchmark can send requests to.
type endpoint struct {
	id   paxi.ID // 0 when not known
	name string  // the ID, or host:port
	zone int
	url  string
}

// endpointsOf lists the nodes: from -endpoints if given, otherwise the
// configuration's http_address.
func endpointsOf(cfg *paxi.Config, bf *benchFlags) ([]endpoint, error) {
	var eps []endpoint
	if bf.endpoints == "" {
		for _, id := range cfg.IDs() {
			eps = append(eps, endpoint{id: id, name: id.String(), zone: id.Zone(), url: cfg.HTTPAddrs[id]})
		}
		return eps, nil
	}
	var errs []error
	for _, f := range strings.Split(bf.endpoints, ",") {
		f = strings.TrimSpace(f)
		ep := endpoint{zone: 1, url: f}
		if idPart, u, ok := strings.Cut(f, "="); ok {
			id, err := paxi.ParseID(idPart)
			if err != nil {
				errs = append(errs, fmt.Errorf("-endpoints %q: %w", f, err))
				continue
			}
			ep.id, ep.name, ep.zone, ep.url = id, id.String(), id.Zone(), u
		}
		u, err := url.Parse(ep.url)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("-endpoints: %q is not an http:// or https:// URL", ep.url))
			continue
		}
		if ep.name == "" {
			ep.name = u.Host
		}
		eps = append(eps, ep)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return eps, nil
}

// waitLeader polls /status on every node of cfg until one reports a leader
// that the others agree on, or the deadline passes. A leaderless protocol
// returns 0.
func waitLeader(ctx context.Context, cfg *paxi.Config, timeout time.Duration) (paxi.ID, error) {
	var eps []endpoint
	for _, id := range cfg.IDs() {
		eps = append(eps, endpoint{id: id, name: id.String(), zone: id.Zone(), url: cfg.HTTPAddrs[id]})
	}
	return waitLeaderAt(ctx, eps, timeout)
}

// waitLeaderAt is waitLeader over a list of paxi-style endpoints. It also
// fills in the ID and zone of endpoints given as plain URLs, from their
// /status.
func waitLeaderAt(ctx context.Context, eps []endpoint, timeout time.Duration) (paxi.ID, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		var leader paxi.ID
		agreed := true
		for i := range eps {
			st, err := client.NewREST(eps[i].url, "", time.Second).Status(ctx)
			switch {
			case err != nil:
				last, agreed = err, false
				continue
			case eps[i].id == 0 && st.ID != 0:
				eps[i].id, eps[i].name, eps[i].zone = st.ID, st.ID.String(), st.ID.Zone()
			}
			switch {
			case st.Ballot == "":
				return 0, nil // leaderless protocol: nothing to wait for
			case st.Leader == 0 || (leader != 0 && st.Leader != leader):
				last, agreed = fmt.Errorf("node %s: leader %v", eps[i].name, st.Leader), false
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

// benchEnv is a resolved benchmark setup: the nodes, which node each client
// uses, and one DB (with its connection pool) per node.
type benchEnv struct {
	cfg    *paxi.Config
	bf     *benchFlags
	eps    []endpoint
	assign func(client int) int // client index -> index in eps
	where  string               // a description of the assignment
	dbs    []benchmark.DB
	label  string
	stderr io.Writer
	// cpu is how busy this process and the nodes were during the last run.
	cpu cpuUsage
}

func newBenchEnv(ctx context.Context, cfg *paxi.Config, bf *benchFlags, stderr io.Writer) (*benchEnv, error) {
	eps, err := endpointsOf(cfg, bf)
	if err != nil {
		return nil, err
	}
	if len(eps) == 0 {
		return nil, errors.New("no endpoints to benchmark")
	}
	e := &benchEnv{cfg: cfg, bf: bf, eps: eps, stderr: stderr, label: bf.label}
	if e.label == "" {
		e.label = cfg.Protocol
		if bf.target != target.Paxi {
			e.label = bf.target
		}
		if bf.client == target.ClientNative {
			e.label += "-native"
		}
	}
	leader := 0 // index in eps of the node clients use under -at leader
	if bf.target == target.Paxi {
		id, err := waitLeaderAt(ctx, eps, 15*time.Second)
		if err != nil {
			return nil, err
		}
		for i, ep := range eps {
			if ep.id == id {
				leader = i
			}
		}
	}
	switch bf.at {
	case "leader":
		e.assign = func(int) int { return leader }
		e.where = "at " + eps[leader].name
	case "all":
		e.assign = func(i int) int { return i % len(eps) }
		e.where = fmt.Sprintf("spread over %d nodes", len(eps))
	case "zone":
		var zones []int
		byZone := map[int][]int{}
		for i, ep := range eps {
			if byZone[ep.zone] == nil {
				zones = append(zones, ep.zone)
			}
			byZone[ep.zone] = append(byZone[ep.zone], i)
		}
		slices.Sort(zones)
		// Client i is in zone zones[i mod Z], at the (i div Z)-th node of
		// that zone, round robin.
		e.assign = func(i int) int {
			in := byZone[zones[i%len(zones)]]
			return in[(i/len(zones))%len(in)]
		}
		e.where = fmt.Sprintf("spread over zones %v, each at a node of its zone", zones)
	default:
		id, err := paxi.ParseID(bf.at)
		if err != nil {
			return nil, fmt.Errorf("-at %q: want leader, all, zone or a node ID: %w", bf.at, err)
		}
		i := slices.IndexFunc(eps, func(ep endpoint) bool { return ep.id == id })
		if i < 0 {
			var names []string
			for _, ep := range eps {
				names = append(names, ep.name)
			}
			return nil, fmt.Errorf("-at %v: no such node (nodes: %s)", id, strings.Join(names, ", "))
		}
		e.assign = func(int) int { return i }
		e.where = "at " + eps[i].name
	}
	for i, ep := range eps {
		db, err := newDB(bf, cfg, ep, fmt.Sprintf("bench-%d-%d", bf.seed, i))
		if err != nil {
			return nil, err
		}
		e.dbs = append(e.dbs, db)
	}
	return e, nil
}

// run runs the benchmark b (the configured one with, in sweeps, another
// concurrency).
func (e *benchEnv) run(ctx context.Context, b benchmark.Config, keepValues bool) (*benchmark.Result, error) {
	before := e.sampleCPU(ctx)
	res, err := benchmark.Run(ctx, benchmark.Options{
		Config:     b,
		Seed:       e.bf.seed,
		Label:      e.label,
		KeepValues: keepValues,
		Progress:   progressWriter(e.stderr),
		Target: func(i int) (benchmark.Target, error) {
			n := e.assign(i)
			return benchmark.Target{Zone: e.eps[n].zone, Node: e.eps[n].name, DB: e.dbs[n]}, nil
		},
	})
	if err == nil {
		e.cpu = before.usage(e.sampleCPU(context.WithoutCancel(ctx)))
	}
	return res, err
}

// describe prints what the benchmark is about to do.
func (e *benchEnv) describe(w io.Writer, b benchmark.Config, clients string) {
	what := fmt.Sprintf("%v", time.Duration(b.T))
	if b.T == 0 {
		what = fmt.Sprintf("%d ops", b.N)
	}
	if b.Throttle > 0 {
		what += fmt.Sprintf(" at %.0f ops/s", b.Throttle)
	}
	dist := b.Distribution
	switch dist {
	case benchmark.Normal:
		dist = fmt.Sprintf("normal mu=%v sigma=%g", b.Mu, b.Sigma)
		if b.Move {
			dist += fmt.Sprintf(" moving every %v", b.Speed)
		}
	case benchmark.Conflict:
		dist = fmt.Sprintf("conflict %d%%", b.Conflicts)
	case benchmark.Zipfian, "zipfan":
		dist = fmt.Sprintf("zipfian s=%g v=%g", b.ZipfianS, b.ZipfianV)
	}
	fmt.Fprintf(w, "benchmark %s (%s): %s, %s clients %s, %d keys (%s), %.0f%% writes of %d bytes\n",
		e.label, e.bf.target, what, clients, e.where, b.K, dist, 100*b.W, b.Size)
}

// progressWriter returns stderr if it is a terminal, for progress bars.
func progressWriter(stderr io.Writer) io.Writer {
	if f, ok := stderr.(*os.File); ok {
		return benchmark.TerminalWriter(f)
	}
	return nil
}

// benchOnce runs one benchmark, prints its table and writes its files.
func benchOnce(ctx context.Context, cfg *paxi.Config, bf *benchFlags, stdout, stderr io.Writer) error {
	env, err := newBenchEnv(ctx, cfg, bf, stderr)
	if err != nil {
		return err
	}
	b := cfg.Benchmark
	env.describe(stderr, b, fmt.Sprint(b.Concurrency))
	res, err := env.run(ctx, b, bf.out != "")
	if err != nil {
		return err
	}
	s := res.Summary()
	if err := benchmark.PrintTable(stdout, s); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s; %.1f µs of CPU per op\n", env.cpu, micros(env.cpu.perOp(s.Overall.Ops)))
	if res.Interrupted {
		fmt.Fprintf(stderr, "interrupted after %.1f s: the results cover the requests made until then\n", res.Duration.Seconds())
	}
	if bf.out == "" {
		return nil
	}
	files, err := writeResult(bf.out, res, s)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s\n", strings.Join(files, ", "))
	return nil
}

// writeResult writes a run's latency file, history and statistics into dir.
func writeResult(dir string, res *benchmark.Result, s benchmark.Summary) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	outputs := []struct {
		name  string
		write func(io.Writer) error
	}{
		{"latency.csv", res.WriteLatencyCSV},
		{"history.jsonl", res.WriteHistory},
		{"stats.csv", func(w io.Writer) error { return benchmark.WriteStatsCSV(w, s) }},
		{"stats.json", func(w io.Writer) error { return benchmark.WriteSummaryJSON(w, s) }},
	}
	var files []string
	for _, o := range outputs {
		p := filepath.Join(dir, o.name)
		if err := writeFile(p, o.write); err != nil {
			return files, err
		}
		files = append(files, p)
	}
	return files, nil
}

// writeFile creates path and writes it through a buffered writer.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// sweepCluster runs a sweep, prints its table and writes its CSV and plot.
func sweepCluster(ctx context.Context, cfg *paxi.Config, bf *benchFlags, sf *sweepFlags, opt benchmark.SweepOptions, stdout, stderr io.Writer) error {
	env, err := newBenchEnv(ctx, cfg, bf, stderr)
	if err != nil {
		return err
	}
	b := cfg.Benchmark
	levels := "1, 2, 4, ..."
	if len(opt.Levels) > 0 {
		levels = fmt.Sprint(opt.Levels)
	}
	env.describe(stderr, b, levels)
	opt.Each = func(p benchmark.SweepPoint) {
		o := p.Summary.Overall
		fmt.Fprintf(stderr, "  %4d clients: %8.0f ops/s  p50 %7.3f ms  p99 %7.3f ms  errors %d\n",
			p.Concurrency, o.Throughput, ms(o.P50), ms(o.P99), o.Errors)
	}
	res, err := benchmark.Sweep(ctx, opt, func(ctx context.Context, c int) (benchmark.Summary, error) {
		lb := b
		lb.Concurrency = c
		r, err := env.run(ctx, lb, false)
		if err != nil {
			return benchmark.Summary{}, err
		}
		return r.Summary(), nil
	})
	if err != nil && ctx.Err() != nil && len(res.Points) > 0 {
		// Interrupted: keep what was measured.
		fmt.Fprintf(stderr, "interrupted: the sweep stopped after %d levels\n", len(res.Points))
		res.Reason, err = "interrupted", nil
	}
	if len(res.Points) > 0 {
		if perr := benchmark.PrintSweepTable(stdout, res); perr != nil && err == nil {
			err = perr
		}
	}
	if err != nil {
		return err
	}
	var files []string
	csvPath := ""
	if bf.out != "" {
		if err := os.MkdirAll(bf.out, 0o755); err != nil {
			return err
		}
		csvPath = filepath.Join(bf.out, "sweep.csv")
		if err := writeFile(csvPath, func(w io.Writer) error { return benchmark.WriteSweepCSV(w, res.Points) }); err != nil {
			return err
		}
		files = append(files, csvPath)
	}
	plotPath := sf.plot
	if plotPath == "" && bf.out != "" {
		plotPath = filepath.Join(bf.out, "sweep.png")
	}
	if plotPath != "" {
		p, err := plot.NewLatencyThroughput([]plot.SweepSeries{{Label: env.label, Points: res.Points}},
			plot.Options{Title: fmt.Sprintf("%s: latency vs throughput", env.label)})
		if err != nil {
			return err
		}
		if err := plot.Save(p, plotPath, plot.Options{}); err != nil {
			return err
		}
		files = append(files, plotPath)
	}
	if len(files) > 0 {
		fmt.Fprintf(stderr, "wrote %s\n", strings.Join(files, ", "))
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// checkPlotFile rejects an output file whose extension no plot format has,
// before a long sweep rather than after.
func checkPlotFile(path string) error {
	if ext := strings.ToLower(filepath.Ext(path)); !slices.Contains(plot.Formats, ext) {
		return fmt.Errorf("%q: the extension must be one of %s", path, strings.Join(plot.Formats, ", "))
	}
	return nil
}

// micros is d in microseconds.
func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
