package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"time"

	"github.com/ailidani/paxi-style/node"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols"
	"github.com/ailidani/paxi-style/smr"
	"github.com/ailidani/paxi-style/transport"
)

const proxyDescription = `Replicates an unmodified Redis through the configured protocol (state-machine replication of
its inputs, APUS-style; see package smr). Every replica starts its own empty redis-server on
loopback, with persistence off, and listens for Redis clients in its place: connect
redis-cli or redis-benchmark to a replica's client port instead of to Redis. Every replica
executes every client's input in the order the protocol decides, and the replica a client is
connected to answers it from its own Redis.

Without -id, every replica of the configuration runs in this process (a local cluster). With
-id, only that replica runs: start one process per replica, each with its own -id and the
same flags, to kill and restart replicas independently. Either way, replica number i (0, 1,
... in ID order) takes client port -listen + i and Redis port -redis-port + i, so every
process agrees on where everything is.

It runs until interrupted, then prints each local Redis's DEBUG DIGEST and stops the Redis
servers it started. Compare the copies at any time with
  redis-cli -p <redis port> debug digest

Example (3 Multi-Paxos replicas in one process, clients at 6400-6402, Redis at 7400-7402):
  paxi proxy -port 1745 -http-port 8091
  redis-benchmark -p 6400 -t set,get -n 100000 -c 50`

func runProxy(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("proxy", proxyDescription, stderr)
	var cf clusterFlags
	cf.register(fs)
	idFlag := fs.String("id", "", "run only this replica (`ID`, e.g. 1.2); empty: every replica of the configuration in this process")
	n := fs.Int("n", 0, "number of replicas, replacing the config's node list with a loopback one (0: keep the config's)")
	port := fs.Int("port", 1735, "with -n or the built-in configuration: first transport port")
	httpPort := fs.Int("http-port", 8081, "with -n or the built-in configuration: first REST port (native protocol at +1000)")
	listen := fs.String("listen", "127.0.0.1:6400", "client `address` of replica 0; replica i listens on its port + i")
	redisPort := fs.Int("redis-port", 7400, "loopback port of replica 0's redis-server; replica i's is this + i")
	redisPath := fs.String("redis-server", "redis-server", "the redis-server `program` to start")
	replyWait := fs.Duration("reply-wait", smr.DefaultReplyWait, "how long a replica waits for Redis to answer one connection's requests before it feeds\nanother connection (only blocking commands such as BLPOP should ever reach it)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process, from start to interrupt, to `file` (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if (set["port"] || set["http-port"]) && *n == 0 && cf.config == "" {
		*n = 3 // moving the built-in cluster's ports keeps its 3 nodes
	}
	host, basePort, err := splitListen(*listen)
	if err != nil {
		return err
	}
	if *redisPort <= 0 || *redisPort > 65535 {
		return fmt.Errorf("-redis-port %d: must be a port number", *redisPort)
	}
	if *replyWait <= 0 {
		return fmt.Errorf("-reply-wait %v: must be positive", *replyWait)
	}
	if _, err := smr.LookRedis(*redisPath); err != nil {
		return err
	}
	cfg, err := cf.load(func(c *paxi.Config) {
		if *n > 0 {
			c.SetLocal(*n, 1, *port, *httpPort)
		}
	})
	if err != nil {
		return err
	}
	ids := cfg.IDs()
	run := ids
	if *idFlag != "" {
		id, err := paxi.ParseID(*idFlag)
		if err != nil {
			return fmt.Errorf("-id: %w", err)
		}
		if !slices.Contains(ids, id) {
			return fmt.Errorf("-id %v: not in the configuration (nodes: %v)", id, ids)
		}
		if cfg.Transport == paxi.TransportChan {
			return errors.New("transport \"chan\" only connects replicas in one process: drop -id, or use tcp/udp")
		}
		run = []paxi.ID{id}
	}
	if last := basePort + len(ids) - 1; last > 65535 || *redisPort+len(ids)-1 > 65535 {
		return fmt.Errorf("-listen and -redis-port: %d replicas need ports up to %d", len(ids), max(last, *redisPort+len(ids)-1))
	}
	p, err := protocols.Lookup(cfg.Protocol)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: levelOf(cfg.LogLevel)}))
	chanNet := transport.NewChanNetwork()

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

	var replicas []*smr.Replica
	defer func() {
		for _, r := range replicas {
			r.Close()
		}
	}()
	fmt.Fprintf(stdout, "paxi proxy: %d of %d replicas of redis-server, ordered by %s over %s\n", len(run), len(ids), cfg.Protocol, cfg.Transport)
	for _, id := range run {
		i := slices.Index(ids, id)
		r, err := smr.StartReplica(context.Background(), smr.ReplicaConfig{
			Config: cfg, ID: id, Protocol: p,
			Listen:    net.JoinHostPort(host, strconv.Itoa(basePort+i)),
			Redis:     smr.RedisOptions{Path: *redisPath, Port: *redisPort + i},
			ReplyWait: *replyWait,
			Node:      node.Options{ChanNet: chanNet},
			Logger:    logger,
		})
		if err != nil {
			return err
		}
		replicas = append(replicas, r)
		fmt.Fprintf(stdout, "replica %v: clients %s, redis-server %s (pid %d), REST %s\n",
			id, r.Addr, r.Redis.Addr, r.Redis.Pid(), cfg.HTTPAddrs[id])
	}
	fmt.Fprintf(stdout, "interrupt to stop\n")

	stopped := make(chan *smr.Replica, len(replicas))
	for _, r := range replicas {
		go func() {
			<-r.Done()
			stopped <- r
		}()
	}
	var failure error
	select {
	case s := <-signals():
		fmt.Fprintf(stderr, "paxi proxy: %v, stopping\n", s)
	case r := <-stopped:
		failure = r.Err()
		if failure == nil {
			failure = fmt.Errorf("replica %v stopped", r.ID)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, r := range replicas {
		d, err := smr.Digest(ctx, r.Redis.Addr)
		if err != nil {
			d = err.Error()
		}
		fmt.Fprintf(stdout, "replica %v: redis %s digest %s\n", r.ID, r.Redis.Addr, d)
	}
	return failure
}

// splitListen parses -listen: a host and the first replica's port.
func splitListen(s string) (string, int, error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("-listen %q: %w", s, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("-listen %q: port must be a number in [1,65535]", s)
	}
	return host, port, nil
}
