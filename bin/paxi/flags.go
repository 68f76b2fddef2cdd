package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ailidani/paxi-style/benchmark"
	"github.com/ailidani/paxi-style/benchmark/target"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols"
)

// clusterFlags are the flags that choose and adjust a cluster configuration.
type clusterFlags struct {
	config    string
	protocol  string
	transport string
	logLevel  string
	wan       string
	q1, q2    int
	thrifty   bool
	fz        int    // -1: the config's
	policy    string // "": the config's

	// base, if set, is the configuration to start from instead of -config
	// (one fetched from a configuration master).
	base *paxi.Config
}

func (f *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "cluster configuration `file` (JSON); empty: the built-in 3-node loopback cluster")
	fs.StringVar(&f.protocol, "protocol", "", "protocol to run, overriding the config ("+fmt.Sprint(protocols.Names())+")")
	fs.StringVar(&f.transport, "transport", "", "transport between nodes, overriding the config (tcp, udp or chan)")
	fs.StringVar(&f.logLevel, "log-level", "", "log level, overriding the config (debug, info, warn, error)")
	fs.StringVar(&f.wan, "wan", "", "emulate a WAN between zones with a built-in RTT preset (aws5: Virginia, Ohio, California,\nIreland, Japan as zones 1-5), or \"none\" to drop the config's wan section; every node must agree")
	fs.IntVar(&f.q1, "q1", 0, "phase-1 quorum size for fpaxos (sets quorum.system to count; with -q2; needs q1+q2 > N)")
	fs.IntVar(&f.q2, "q2", 0, "phase-2 quorum size for fpaxos (with -q1)")
	fs.BoolVar(&f.thrifty, "thrifty", false, "fpaxos: send phase-2 messages only to a smallest Q2")
	fs.IntVar(&f.fz, "fz", -1, "wpaxos: zone failures to tolerate (phase 1 in Z-fz zones, phase 2 in fz+1), overriding wpaxos.fz")
	fs.StringVar(&f.policy, "policy", "", "wpaxos: object migration policy ("+strings.Join(paxi.WPaxosPolicies, ", ")+"), overriding wpaxos.policy")
}

// load reads the configuration, applies the flags that were set and
// validates the result, protocol rules included.
func (f *clusterFlags) load(adjust func(*paxi.Config)) (*paxi.Config, error) {
	var cfg *paxi.Config
	if f.base != nil {
		cfg = f.base
	} else if f.config == "" {
		cfg = paxi.DefaultConfig()
	} else {
		var err error
		if cfg, err = paxi.LoadConfig(f.config); err != nil {
			return nil, err
		}
	}
	if f.protocol != "" {
		cfg.Protocol = f.protocol
	}
	if f.transport != "" {
		cfg.Transport = f.transport
	}
	if f.logLevel != "" {
		cfg.LogLevel = f.logLevel
	}
	switch f.wan {
	case "":
	case "none":
		cfg.WAN = nil
	default:
		cfg.WAN = &paxi.WAN{Preset: f.wan}
	}
	if f.q1 != 0 || f.q2 != 0 {
		cfg.Quorum.System, cfg.Quorum.Q1, cfg.Quorum.Q2 = paxi.QuorumCount, f.q1, f.q2
	}
	if f.thrifty {
		cfg.Quorum.Thrifty = true
	}
	if f.fz >= 0 || f.policy != "" {
		if cfg.Protocol != "wpaxos" {
			return nil, fmt.Errorf("-fz and -policy are settings of wpaxos; the protocol is %q (add -protocol wpaxos)", cfg.Protocol)
		}
		if f.fz >= 0 {
			cfg.WPaxos.FZ = f.fz
		}
		if f.policy != "" {
			cfg.WPaxos.Policy = f.policy
		}
	}
	if adjust != nil {
		adjust(cfg)
	}
	if err := protocols.Validate(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// benchFlags override the benchmark section of the configuration and say
// where the benchmark's clients go and where its results are written.
type benchFlags struct {
	t         time.Duration
	n         int
	k         int
	w         float64
	c         int
	size      int
	dist      string
	throttle  float64
	conflicts int
	min       int
	mu        string
	sigma     float64
	move      bool
	speed     time.Duration
	zipfS     float64
	zipfV     float64
	lambda    float64
	at        string
	target    string
	client    string
	endpoints string
	label     string
	seed      uint64
	timeout   time.Duration
	out       string

	set map[string]bool // the flags given on the command line
}

func (b *benchFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&b.t, "T", 0, "benchmark duration, overriding benchmark.T (e.g. 10s)")
	fs.IntVar(&b.n, "N", 0, "number of operations over all clients instead of a duration, overriding benchmark.N (sets T to 0)")
	fs.IntVar(&b.k, "K", 0, "number of keys, overriding benchmark.K")
	fs.Float64Var(&b.w, "W", 0, "write ratio in [0,1], overriding benchmark.W")
	fs.IntVar(&b.c, "c", 0, "concurrent clients, each with one request outstanding, overriding benchmark.Concurrency\n(sweeps set it per level: see -levels)")
	fs.IntVar(&b.size, "size", 0, "value size in bytes, overriding benchmark.Size")
	fs.StringVar(&b.dist, "dist", "", "key distribution, overriding benchmark.Distribution ("+strings.Join(benchmark.Distributions, ", ")+")")
	fs.Float64Var(&b.throttle, "throttle", 0, "target rate in ops/s over all clients, overriding benchmark.Throttle; latency is then measured from\neach request's scheduled start, so stalls are not hidden (0: closed loop)")
	fs.IntVar(&b.conflicts, "conflicts", 0, "with -dist conflict: percentage of requests on the hot key 0, overriding benchmark.Conflicts")
	fs.IntVar(&b.min, "min", 0, "smallest key, overriding benchmark.Min")
	fs.StringVar(&b.mu, "mu", "", "with -dist normal: mean key, or one per zone (e.g. 200,500,800), overriding benchmark.Mu")
	fs.Float64Var(&b.sigma, "sigma", 0, "with -dist normal: standard deviation in keys, overriding benchmark.Sigma")
	fs.BoolVar(&b.move, "move", false, "with -dist normal: move the mean one key every -speed (sets benchmark.Move)")
	fs.DurationVar(&b.speed, "speed", 0, "with -move: how long the mean stays on one key, overriding benchmark.Speed")
	fs.Float64Var(&b.zipfS, "zipf-s", 0, "with -dist zipfian: exponent s > 1, overriding benchmark.ZipfianS")
	fs.Float64Var(&b.zipfV, "zipf-v", 0, "with -dist zipfian: offset v >= 1, overriding benchmark.ZipfianV")
	fs.Float64Var(&b.lambda, "lambda", 0, "with -dist exponential: rate, overriding benchmark.Lambda")
	fs.StringVar(&b.at, "at", "leader", "where clients send requests: \"leader\" (the node that reports itself leader; the first endpoint\nfor other targets), \"all\" (clients spread over all nodes), \"zone\" (clients spread over the zones, each\nat a node of its own zone: the locality setup) or a node ID such as 1.2")
	fs.StringVar(&b.target, "target", target.Paxi, "what to benchmark: "+strings.Join(target.Kinds, ", ")+" (a paxi-style cluster, an original Paxi\ncluster, or etcd through its v3 JSON gateway)")
	fs.StringVar(&b.client, "client", target.ClientREST, clientUsage)
	fs.StringVar(&b.endpoints, "endpoints", "", "comma-separated `URLs` of the nodes' HTTP APIs, each optionally prefixed by a node ID for its\nzone (1.1=http://h1:8080,2.1=http://h2:8080); empty: the config's http_address")
	fs.StringVar(&b.label, "label", "", "name of what is measured in tables, files and plot legends (default: the protocol, or the target)")
	fs.Uint64Var(&b.seed, "seed", 1, "seed of the key and value sequence")
	fs.DurationVar(&b.timeout, "timeout", 10*time.Second, "per-request timeout of the benchmark clients (a request that times out is an error)")
	fs.StringVar(&b.out, "o", "", "`directory` to write results into (created if needed); empty: print only")
}

// parsed records which flags were given, after fs.Parse.
func (b *benchFlags) parsed(fs *flag.FlagSet) {
	b.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { b.set[f.Name] = true })
}

// apply writes the flags that were given into the benchmark configuration;
// validation follows (paxi.Config.Validate), so bad values are reported
// with the field they override.
func (b *benchFlags) apply(c *benchmark.Config) error {
	if b.set["T"] {
		c.T = benchmark.Duration(b.t)
	}
	if b.set["N"] {
		c.N, c.T = b.n, 0
	}
	if b.set["K"] {
		c.K = b.k
	}
	if b.set["W"] {
		c.W = b.w
	}
	if b.set["c"] {
		c.Concurrency = b.c
	}
	if b.set["size"] {
		c.Size = b.size
	}
	if b.set["dist"] {
		c.Distribution = b.dist
	}
	if b.set["throttle"] {
		c.Throttle = b.throttle
	}
	if b.set["conflicts"] {
		c.Conflicts = b.conflicts
	}
	if b.set["min"] {
		c.Min = b.min
	}
	if b.set["mu"] {
		m, err := benchmark.ParseMus(b.mu)
		if err != nil {
			return fmt.Errorf("-mu: %w", err)
		}
		c.Mu = m
	}
	if b.set["sigma"] {
		c.Sigma = b.sigma
	}
	if b.move {
		c.Move = true
	}
	if b.set["speed"] {
		c.Speed = benchmark.Millis(b.speed)
	}
	if b.set["zipf-s"] {
		c.ZipfianS = b.zipfS
	}
	if b.set["zipf-v"] {
		c.ZipfianV = b.zipfV
	}
	if b.set["lambda"] {
		c.Lambda = b.lambda
	}
	return nil
}

// sweepFlags choose the concurrency levels of a sweep and its stopping
// rules.
type sweepFlags struct {
	levels        string
	max           int
	gain          float64
	patience      int
	latencyFactor float64
	maxP99        time.Duration
	maxErrors     float64
	exhaustive    bool
	plot          string
}

func (s *sweepFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.levels, "levels", "", "comma-separated concurrency `levels` to try in order (e.g. 1,4,16,64); empty: 1, 2, 4, ... up to -max-c")
	fs.IntVar(&s.max, "max-c", 1024, "last level of the doubling sequence")
	fs.Float64Var(&s.gain, "gain", 0.05, "relative throughput gain below which a level is no improvement")
	fs.IntVar(&s.patience, "patience", 2, "levels in a row without improvement that end the sweep (saturation)")
	fs.Float64Var(&s.latencyFactor, "latency-factor", 50, "end the sweep when median latency exceeds this multiple of the first level's (negative: never);\nhigh by default because batching makes one client's latency unrepresentatively low")
	fs.DurationVar(&s.maxP99, "max-p99", 0, "end the sweep after a level whose p99 latency exceeds this (0: no limit)")
	fs.Float64Var(&s.maxErrors, "max-errors", 0.01, "end the sweep after a level where more than this fraction of requests failed (negative: never)")
	fs.BoolVar(&s.exhaustive, "exhaustive", false, "run every level even after saturation")
	fs.StringVar(&s.plot, "plot", "", "`file` for the latency-vs-throughput plot (.png, .svg or .pdf); default: sweep.png in -o if given")
}

// options returns the sweep options of the flags.
func (s *sweepFlags) options() (benchmark.SweepOptions, error) {
	o := benchmark.SweepOptions{Max: s.max, Gain: s.gain, Patience: s.patience,
		LatencyFactor: s.latencyFactor, MaxP99: s.maxP99, MaxErrorRate: s.maxErrors, Exhaustive: s.exhaustive}
	var errs []error
	if s.max < 1 {
		errs = append(errs, fmt.Errorf("-max-c %d: must be at least 1", s.max))
	}
	if !(s.gain > 0) {
		errs = append(errs, fmt.Errorf("-gain %g: must be positive", s.gain))
	}
	if s.patience < 1 {
		errs = append(errs, fmt.Errorf("-patience %d: must be at least 1", s.patience))
	}
	if s.latencyFactor >= 0 && s.latencyFactor <= 1 {
		errs = append(errs, fmt.Errorf("-latency-factor %g: must be above 1 (or negative: off)", s.latencyFactor))
	}
	if s.maxP99 < 0 {
		errs = append(errs, fmt.Errorf("-max-p99 %v: must not be negative", s.maxP99))
	}
	if s.maxErrors == 0 {
		errs = append(errs, fmt.Errorf("-max-errors 0: give a fraction in (0,1], or a negative value for no limit"))
	}
	if s.levels != "" {
		for _, f := range strings.Split(s.levels, ",") {
			c, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || c < 1 {
				errs = append(errs, fmt.Errorf("-levels %q: %q is not a positive number", s.levels, f))
				continue
			}
			if n := len(o.Levels); n > 0 && c <= o.Levels[n-1] {
				errs = append(errs, fmt.Errorf("-levels %q: levels must increase (%d after %d)", s.levels, c, o.Levels[n-1]))
			}
			o.Levels = append(o.Levels, c)
		}
	}
	if s.plot != "" {
		if err := checkPlotFile(s.plot); err != nil {
			errs = append(errs, fmt.Errorf("-plot: %w", err))
		}
	}
	return o, errors.Join(errs...)
}
