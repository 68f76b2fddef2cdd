package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/ailidani/paxi-style/benchmark"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols"
)

// clusterFlags are the flags that choose and adjust a cluster configuration.
type clusterFlags struct {
	config    string
	protocol  string
	transport string
	logLevel  string
}

func (f *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "cluster configuration `file` (JSON); empty: the built-in 3-node loopback cluster")
	fs.StringVar(&f.protocol, "protocol", "", "protocol to run, overriding the config ("+fmt.Sprint(protocols.Names())+")")
	fs.StringVar(&f.transport, "transport", "", "transport between nodes, overriding the config (tcp, udp or chan)")
	fs.StringVar(&f.logLevel, "log-level", "", "log level, overriding the config (debug, info, warn, error)")
}

// load reads the configuration, applies the flags that were set and
// validates the result, protocol rules included.
func (f *clusterFlags) load(adjust func(*paxi.Config)) (*paxi.Config, error) {
	var cfg *paxi.Config
	if f.config == "" {
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
	if adjust != nil {
		adjust(cfg)
	}
	if err := protocols.Validate(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// benchFlags override the benchmark section of the configuration.
type benchFlags struct {
	t       time.Duration
	n       int
	k       int
	w       float64
	c       int
	size    int
	dist    string
	at      string
	seed    uint64
	timeout time.Duration
}

func (b *benchFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&b.t, "T", 0, "benchmark duration, overriding benchmark.T (e.g. 10s)")
	fs.IntVar(&b.n, "N", 0, "number of operations instead of a duration, overriding benchmark.N (sets T to 0)")
	fs.IntVar(&b.k, "K", 0, "number of keys, overriding benchmark.K")
	fs.Float64Var(&b.w, "W", -1, "write ratio in [0,1], overriding benchmark.W")
	fs.IntVar(&b.c, "c", 0, "concurrent closed-loop clients, overriding benchmark.Concurrency")
	fs.IntVar(&b.size, "size", -1, "value size in bytes, overriding benchmark.Size")
	fs.StringVar(&b.dist, "dist", "", "key distribution, overriding benchmark.Distribution ("+fmt.Sprint(benchmark.Distributions)+")")
	fs.StringVar(&b.at, "at", "leader", "where clients send requests: \"leader\" (the node that reports itself leader), \"all\" (clients spread over all nodes) or a node ID such as 1.2")
	fs.Uint64Var(&b.seed, "seed", 1, "seed of the key and value sequence")
	fs.DurationVar(&b.timeout, "timeout", 10*time.Second, "per-request timeout of the benchmark clients")
}

func (b *benchFlags) apply(c *benchmark.Config) {
	if b.t > 0 {
		c.T = benchmark.Duration(b.t)
	}
	if b.n > 0 {
		c.N, c.T = b.n, 0
	}
	if b.k > 0 {
		c.K = b.k
	}
	if b.w >= 0 {
		c.W = b.w
	}
	if b.c > 0 {
		c.Concurrency = b.c
	}
	if b.size >= 0 {
		c.Size = b.size
	}
	if b.dist != "" {
		c.Distribution = b.dist
	}
}
