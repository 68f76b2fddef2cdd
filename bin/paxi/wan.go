package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ailidani/paxi-style/benchmark"
	"github.com/ailidani/paxi-style/benchmark/plot"
	"github.com/ailidani/paxi-style/benchmark/target"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols"
)

const wanDescription = `Reproduces the shape of the Paxi paper's WAN study on one machine: for each protocol it
starts a cluster in this process with -per-zone nodes in each of the five regions of the aws5 WAN
preset (Virginia, Ohio, California, Ireland, Japan; every message between two nodes is delayed by
half their regions' round-trip time), puts -c clients in every region, each at a node of its own
region, and measures the latency each region sees.

  -experiment conflict   (Figure 11) every region works on its own -K keys, and a rising share
                         of requests (-conflicts) goes to the one key all regions share;
                         one point per protocol and conflict level. A warm-up lets every
                         region touch its own keys first, so objects start at home.
  -experiment locality   (Figure 13) every region favours its own part of one key space (a normal
                         distribution around a mean per region); the objects start in Ohio: a
                         warm-up from Ohio touches every key before the measured run.

A protocol is given by name, optionally with configuration settings after a colon, as JSON paths
into the configuration: wpaxos:wpaxos.fz=1 runs WPaxos tolerating one zone failure. Protocols
that are not in this binary are an error (see paxi protocols).

-o DIR writes DIR/<experiment>.csv (one row per protocol, level and region), a plot per region and
one for all regions (conflict), or the per-region bars and the latency CDF (locality).`

// wanDefaultProtocols are the protocols of the Paxi paper's WAN figures.
const wanDefaultProtocols = "paxos,epaxos,wpaxos,wpaxos:wpaxos.fz=1,wankeeper,vpaxos"

func runWAN(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("wan", wanDescription, stderr)
	experiment := fs.String("experiment", "conflict", "conflict (latency per region as conflicts rise) or locality (per-region latency and CDF under the normal-locality workload)")
	protos := fs.String("protocols", wanDefaultProtocols, "comma-separated `protocols`, each name[:path=value;...] with configuration settings")
	levels := fs.String("conflicts", "0,20,40,60,80,100", "conflict experiment: comma-separated `percentages` of requests on the shared key")
	perZone := fs.Int("per-zone", 3, "nodes in each of the 5 regions")
	clients := fs.Int("c", 2, "clients in each region, each with one request outstanding")
	dur := fs.Duration("T", 10*time.Second, "how long each measured run lasts")
	writes := fs.Float64("W", 0.5, "write ratio in [0,1]")
	keys := fs.Int("K", 0, "keys per region (conflict; default 100) or in all (locality; default 1000)")
	sigma := fs.Float64("sigma", 60, "locality: standard deviation of each region's key distribution")
	port := fs.Int("port", 1735, "first transport port of the clusters")
	httpPort := fs.Int("http-port", 8081, "first REST port of the clusters")
	seed := fs.Uint64("seed", 1, "seed of the workload")
	leaderZone := fs.Int("leader-zone", 2, "single-leader protocols (paxos, fpaxos): restart the cluster until its elected leader is in this zone (2: Ohio), so that runs compare like with like; 0: take whichever leader is elected")
	out := fs.String("o", "", "directory for the CSV and the plots (empty: print the table only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	specs, err := parseProtocolSpecs(*protos)
	if err != nil {
		return err
	}
	var errs []error
	if *experiment != "conflict" && *experiment != "locality" {
		errs = append(errs, fmt.Errorf("-experiment %q: want conflict or locality", *experiment))
	}
	pcts, err := parseLevels(*levels)
	if err != nil {
		errs = append(errs, err)
	}
	if *perZone < 1 {
		errs = append(errs, fmt.Errorf("-per-zone %d: want at least 1", *perZone))
	}
	if *clients < 1 {
		errs = append(errs, fmt.Errorf("-c %d: want at least 1 client per region", *clients))
	}
	if *dur <= 0 {
		errs = append(errs, fmt.Errorf("-T %v: want a positive duration", *dur))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	if *leaderZone < 0 || *leaderZone > len(wanRegions) {
		return fmt.Errorf("-leader-zone %d: want 0 (any) or a zone from 1 to %d", *leaderZone, len(wanRegions))
	}
	w := &wanRun{perZone: *perZone, port: *port, httpPort: *httpPort, seed: *seed, stderr: stderr, leaderZone: *leaderZone}
	w.bench = benchmark.DefaultConfig()
	w.bench.T, w.bench.N = benchmark.Duration(*dur), 0
	if *keys == 0 {
		*keys = 100
		if *experiment == "locality" {
			*keys = 1000
		}
	}
	w.bench.W, w.bench.K, w.bench.Concurrency = *writes, *keys, *clients*len(wanRegions)
	w.bench.Sigma = *sigma
	if err := w.bench.Validate(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var rows []wanRow
	switch *experiment {
	case "conflict":
		rows, err = w.conflict(ctx, specs, pcts)
	default:
		rows, err = w.locality(ctx, specs)
	}
	if err != nil {
		return err
	}
	if err := printWAN(stdout, *experiment, rows); err != nil {
		return err
	}
	if *out == "" {
		return nil
	}
	files, err := w.write(*out, *experiment, rows)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s\n", strings.Join(files, ", "))
	return nil
}

// wanRegions are the zones of the aws5 preset, in zone order.
var wanRegions = paxi.PresetZones["aws5"]

// protocolSpec is a protocol with configuration settings.
type protocolSpec struct {
	name     string
	settings []setting
	label    string
}

// setting is one configuration setting: a JSON path and a value.
type setting struct {
	path  []string
	value any
}

// parseProtocolSpecs parses "paxos,wpaxos:wpaxos.fz=1;wpaxos.policy=immediate".
func parseProtocolSpecs(s string) ([]protocolSpec, error) {
	var specs []protocolSpec
	var errs []error
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, rest, _ := strings.Cut(item, ":")
		if _, err := protocols.Lookup(name); err != nil {
			errs = append(errs, fmt.Errorf("-protocols %q: %w", item, err))
			continue
		}
		sp := protocolSpec{name: name, label: item}
		for _, kv := range strings.Split(rest, ";") {
			if kv == "" {
				continue
			}
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				errs = append(errs, fmt.Errorf("-protocols %q: setting %q: want path=value, e.g. wpaxos.fz=1", item, kv))
				continue
			}
			var val any
			if json.Unmarshal([]byte(v), &val) != nil {
				val = v // a bare word is a string
			}
			sp.settings = append(sp.settings, setting{path: strings.Split(k, "."), value: val})
		}
		specs = append(specs, sp)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(specs) == 0 {
		return nil, errors.New("-protocols: no protocol given")
	}
	return specs, nil
}

// apply sets the spec's protocol and settings in cfg, through the JSON
// form of the configuration so that any field can be set by its JSON path
// and the configuration's own parser checks the result.
func (sp protocolSpec) apply(cfg *paxi.Config) (*paxi.Config, error) {
	cfg.Protocol = sp.name
	if len(sp.settings) == 0 {
		return cfg, nil
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for _, s := range sp.settings {
		node := m
		for i, p := range s.path[:len(s.path)-1] {
			next, ok := node[p].(map[string]any)
			if !ok {
				if node[p] != nil {
					return nil, fmt.Errorf("%s: %s is not a section", sp.label, strings.Join(s.path[:i+1], "."))
				}
				next = map[string]any{}
				node[p] = next
			}
			node = next
		}
		node[s.path[len(s.path)-1]] = s.value
	}
	if b, err = json.Marshal(m); err != nil {
		return nil, err
	}
	out, err := paxi.ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sp.label, err)
	}
	return out, nil
}

// parseLevels parses a comma-separated list of percentages.
func parseLevels(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 0 || v > 100 {
			return nil, fmt.Errorf("-conflicts %q: %q is not a percentage from 0 to 100", s, f)
		}
		out = append(out, v)
	}
	return out, nil
}

// wanRun is one invocation of paxi wan.
type wanRun struct {
	perZone         int
	port, httpPort  int
	seed            uint64
	leaderZone      int
	bench           benchmark.Config
	stderr          io.Writer
	latencies       map[string][]time.Duration // locality: per protocol label, for the CDF
	localitySummary []plot.ZoneSeries
}

// wanRow is one protocol at one level in one region (zone 0: all).
type wanRow struct {
	label string
	level int // conflict percentage; -1 for the locality experiment
	zone  int
	stats benchmark.Stats
}

func (w *wanRun) conflict(ctx context.Context, specs []protocolSpec, pcts []int) ([]wanRow, error) {
	var rows []wanRow
	for _, sp := range specs {
		for _, pct := range pcts {
			b := w.bench
			b.Distribution, b.Conflicts, b.Min, b.ZoneKeys = benchmark.Conflict, pct, 1, true
			fmt.Fprintf(w.stderr, "%s, %d%% conflicts\n", sp.label, pct)
			// Warm-up: every region touches its own keys a few times, so
			// that protocols that move objects start with them at home.
			warm := b
			warm.Distribution, warm.Conflicts, warm.T, warm.N = benchmark.Uniform, 0, 0, 5*b.K*len(wanRegions)
			warm.Concurrency = 10 * len(wanRegions)
			s, _, err := w.measure(ctx, sp, b, &warm, "zone")
			if err != nil {
				return rows, err
			}
			rows = append(rows, summaryRows(sp.label, pct, s)...)
			if ctx.Err() != nil {
				return rows, nil
			}
		}
	}
	return rows, nil
}

func (w *wanRun) locality(ctx context.Context, specs []protocolSpec) ([]wanRow, error) {
	b := w.bench
	b.Distribution, b.Min = benchmark.Normal, 0
	// Each region's mean in the middle of its fifth of the key space.
	b.Mu = nil
	for z := range wanRegions {
		b.Mu = append(b.Mu, float64(b.K)*(2*float64(z)+1)/(2*float64(len(wanRegions))))
	}
	w.latencies = map[string][]time.Duration{}
	var rows []wanRow
	for _, sp := range specs {
		fmt.Fprintf(w.stderr, "%s, normal locality (mu %v, sigma %g), objects first in Ohio\n", sp.label, b.Mu, b.Sigma)
		// Warm-up: Ohio's clients touch every key a few times, so that
		// protocols that move objects start with all of them in Ohio.
		warm := b
		warm.Distribution, warm.T, warm.N, warm.Concurrency = benchmark.Uniform, 0, 4*b.K, 50
		s, res, err := w.measure(ctx, sp, b, &warm, paxi.NewID(2, 1).String())
		if err != nil {
			return rows, err
		}
		rows = append(rows, summaryRows(sp.label, -1, s)...)
		w.localitySummary = append(w.localitySummary, plot.ZoneSeries{Label: sp.label, Summary: s})
		for r := range res.Requests() {
			if r.Error == "" {
				w.latencies[sp.label] = append(w.latencies[sp.label], r.Latency)
			}
		}
		if ctx.Err() != nil {
			return rows, nil
		}
	}
	return rows, nil
}

// measure starts the protocol's WAN cluster, runs the warm-up workload
// (if any) with its clients at warmAt ("zone", or a node), then workload b
// with clients in every region, and stops the cluster.
func (w *wanRun) measure(ctx context.Context, sp protocolSpec, b benchmark.Config, warm *benchmark.Config, warmAt string) (benchmark.Summary, *benchmark.Result, error) {
	cfg := paxi.DefaultConfig()
	cfg.SetLocal(w.perZone*len(wanRegions), len(wanRegions), w.port, w.httpPort)
	cfg.WAN = &paxi.WAN{Preset: "aws5"}
	cfg.LogLevel = "error"
	// Requests wait for cross-region rounds and elections: give them time.
	cfg.RequestTimeout = paxi.Duration(10 * time.Second)
	cfg.Benchmark = b
	cfg, err := sp.apply(cfg)
	if err != nil {
		return benchmark.Summary{}, nil, err
	}
	if err := protocols.Validate(cfg); err != nil {
		return benchmark.Summary{}, nil, fmt.Errorf("%s: %w", sp.label, err)
	}
	stopCluster, err := w.start(ctx, cfg, sp)
	if err != nil {
		return benchmark.Summary{}, nil, fmt.Errorf("%s: %w", sp.label, err)
	}
	defer stopCluster()

	bf := benchFlags{target: target.Paxi, client: target.ClientREST, seed: w.seed, timeout: 30 * time.Second,
		label: sp.label, set: map[string]bool{}}
	if warm != nil {
		wf := bf
		wf.at, wf.seed = warmAt, w.seed+1
		cfg.Benchmark = *warm
		env, err := newBenchEnv(ctx, cfg, &wf, w.stderr)
		if err != nil {
			return benchmark.Summary{}, nil, fmt.Errorf("%s: warm-up: %w", sp.label, err)
		}
		if _, err := env.run(ctx, *warm, false); err != nil {
			return benchmark.Summary{}, nil, fmt.Errorf("%s: warm-up: %w", sp.label, err)
		}
		cfg.Benchmark = b
	}
	bf.at = "zone"
	env, err := newBenchEnv(ctx, cfg, &bf, w.stderr)
	if err != nil {
		return benchmark.Summary{}, nil, fmt.Errorf("%s: %w", sp.label, err)
	}
	res, err := env.run(ctx, b, false)
	if err != nil {
		return benchmark.Summary{}, nil, fmt.Errorf("%s: %w", sp.label, err)
	}
	return res.Summary(), res, nil
}

// electedAnywhere are the protocols whose one leader may be elected in any
// zone; where it lands decides every region's latency, so paxi wan pins it
// (-leader-zone) by restarting the cluster until it lands there.
var electedAnywhere = map[string]bool{"paxos": true, "fpaxos": true}

// leaderTries bounds those restarts.
const leaderTries = 30

// start starts the cluster of cfg, with its leader in w.leaderZone for the
// protocols that elect one anywhere.
func (w *wanRun) start(ctx context.Context, cfg *paxi.Config, sp protocolSpec) (func(), error) {
	for try := 1; ; try++ {
		stop, err := startCluster(cfg, w.stderr)
		if err != nil || w.leaderZone == 0 || !electedAnywhere[sp.name] {
			return stop, err
		}
		leader, err := waitLeader(ctx, cfg, 30*time.Second)
		if err != nil {
			stop()
			return nil, err
		}
		if leader.Zone() == w.leaderZone {
			fmt.Fprintf(w.stderr, "%s: leader %v (%s)\n", sp.label, leader, regionName(leader.Zone()))
			return stop, nil
		}
		stop()
		if try == leaderTries || ctx.Err() != nil {
			return nil, fmt.Errorf("no leader in zone %d (%s) after %d starts; -leader-zone 0 takes any",
				w.leaderZone, regionName(w.leaderZone), try)
		}
	}
}

// summaryRows turns a summary into one row for all regions and one per
// region.
func summaryRows(label string, level int, s benchmark.Summary) []wanRow {
	rows := []wanRow{{label: label, level: level, zone: 0, stats: s.Overall}}
	for _, z := range s.Zones {
		rows = append(rows, wanRow{label: label, level: level, zone: z.Zone, stats: z.Stats})
	}
	return rows
}

// regionName is a zone's region, or "all" for zone 0.
func regionName(z int) string {
	if z >= 1 && z <= len(wanRegions) {
		return wanRegions[z-1]
	}
	if z == 0 {
		return "all"
	}
	return "zone " + strconv.Itoa(z)
}

var wanHeader = []string{"protocol", "conflict_pct", "zone", "region", "ops", "errors", "mean_ms", "p50_ms", "p95_ms", "p99_ms"}

func (r wanRow) record() []string {
	level := strconv.Itoa(r.level)
	if r.level < 0 {
		level = ""
	}
	f := func(d time.Duration) string { return strconv.FormatFloat(ms(d), 'f', 3, 64) }
	return []string{r.label, level, strconv.Itoa(r.zone), regionName(r.zone), strconv.Itoa(r.stats.Ops),
		strconv.Itoa(r.stats.Errors), f(r.stats.Mean), f(r.stats.P50), f(r.stats.P95), f(r.stats.P99)}
}

// printWAN prints the rows as an aligned table.
func printWAN(w io.Writer, experiment string, rows []wanRow) error {
	header := wanHeader
	if experiment != "conflict" {
		header = append([]string{header[0]}, header[2:]...)
	}
	var lines [][]string
	lines = append(lines, header)
	for _, r := range rows {
		rec := r.record()
		if experiment != "conflict" {
			rec = append([]string{rec[0]}, rec[2:]...)
		}
		lines = append(lines, rec)
	}
	width := make([]int, len(header))
	for _, l := range lines {
		for i, c := range l {
			width[i] = max(width[i], len(c))
		}
	}
	for _, l := range lines {
		var b strings.Builder
		for i, c := range l {
			if i > 0 {
				b.WriteString("  ")
			}
			if i <= 1 || header[i] == "region" {
				fmt.Fprintf(&b, "%-*s", width[i], c)
			} else {
				fmt.Fprintf(&b, "%*s", width[i], c)
			}
		}
		if _, err := fmt.Fprintln(w, strings.TrimRight(b.String(), " ")); err != nil {
			return err
		}
	}
	return nil
}

// write writes the CSV and the plots of an experiment into dir.
func (w *wanRun) write(dir, experiment string, rows []wanRow) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	csvPath := filepath.Join(dir, experiment+".csv")
	err := writeFile(csvPath, func(f io.Writer) error {
		cw := csv.NewWriter(f)
		cw.Write(wanHeader)
		for _, r := range rows {
			cw.Write(r.record())
		}
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return nil, err
	}
	files := []string{csvPath}
	if experiment == "conflict" {
		for z := 0; z <= len(wanRegions); z++ {
			var series []plot.LineSeries
			idx := map[string]int{}
			for _, r := range rows {
				if r.zone != z || r.stats.Ops == 0 {
					continue
				}
				i, ok := idx[r.label]
				if !ok {
					i = len(series)
					idx[r.label] = i
					series = append(series, plot.LineSeries{Label: r.label})
				}
				series[i].Points = append(series[i].Points, plot.Point{X: float64(r.level), Y: ms(r.stats.Mean)})
			}
			if len(series) == 0 {
				continue
			}
			p, err := plot.NewLines(series, "requests on the shared key (%)", "mean latency (ms)",
				plot.Options{Title: "Conflicts: " + regionName(z)})
			if err != nil {
				return files, err
			}
			name := filepath.Join(dir, "conflict-"+strings.ToLower(regionName(z))+".png")
			if err := plot.Save(p, name, plot.Options{}); err != nil {
				return files, err
			}
			files = append(files, name)
		}
		return files, nil
	}
	bars, err := plot.NewZoneBars(w.localitySummary, plot.Options{Metric: "mean", ZoneNames: wanRegions,
		Title: "Locality: mean latency per region"})
	if err != nil {
		return files, err
	}
	name := filepath.Join(dir, "locality-regions.png")
	if err := plot.Save(bars, name, plot.Options{}); err != nil {
		return files, err
	}
	files = append(files, name)
	var series []plot.LatencySeries
	for _, zs := range w.localitySummary {
		if ls := w.latencies[zs.Label]; len(ls) > 0 {
			series = append(series, plot.LatencySeries{Label: zs.Label, Latencies: ls})
		}
	}
	cdf, err := plot.NewCDF(series, plot.Options{Title: "Locality: latency CDF, all regions"})
	if err != nil {
		return files, err
	}
	name = filepath.Join(dir, "locality-cdf.png")
	if err := plot.Save(cdf, name, plot.Options{}); err != nil {
		return files, err
	}
	return append(files, name), nil
}
