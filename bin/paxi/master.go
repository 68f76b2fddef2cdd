package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/ailidani/paxi-style/master"
	"github.com/ailidani/paxi-style/node"
)

const masterDescription = `Serves a cluster configuration to the nodes (the original Paxi's configuration master):
nodes started with "paxi server -id ID -master HOST:PORT" fetch it at start instead of reading a
file, and report to the master when they serve; "paxi bench -master HOST:PORT" takes the node list
from it. The flags that adjust a configuration (-protocol, -wan, ...) apply to what is served.

API: GET /config (the configuration, JSON), POST /ready?id=ID, GET /ready (which nodes reported),
GET /healthz. The configuration holds the admin token: listen only on the cluster's network.`

// defaultMasterAddr is where paxi master listens unless told otherwise.
const defaultMasterAddr = ":7070"

func runMaster(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("master", masterDescription, stderr)
	var cf clusterFlags
	cf.register(fs)
	listen := fs.String("listen", defaultMasterAddr, "`host:port` to serve the configuration on (\":7070\": every interface)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cf.config == "" {
		return errors.New("-config is required: the cluster configuration file to serve")
	}
	cfg, err := cf.load(nil)
	if err != nil {
		return err
	}
	log := node.NewLogger(cfg.LogLevel).With("master", *listen)
	s, err := master.NewServer(cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Fprintf(stderr, "paxi master: serving %s (%d nodes, protocol %s) at %s\n", cf.config, cfg.N(), cfg.Protocol, ln.Addr())
	select {
	case s := <-signals():
		fmt.Fprintf(stderr, "paxi master: %v, stopping\n", s)
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return hs.Shutdown(ctx)
}

// masterFlags take a command's configuration from a configuration master
// instead of a file.
type masterFlags struct {
	addr    string
	timeout time.Duration
}

func (m *masterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.addr, "master", "", "fetch the cluster configuration from the configuration master at `host:port` (see paxi master)\ninstead of -config; the other configuration flags still apply")
	fs.DurationVar(&m.timeout, "master-timeout", 30*time.Second, "with -master: how long to keep trying to reach the master before giving up")
}

// fetch loads the master's configuration into cf as its base, when -master
// was given.
func (m *masterFlags) fetch(ctx context.Context, cf *clusterFlags) error {
	if m.addr == "" {
		return nil
	}
	if cf.config != "" {
		return errors.New("-config and -master both given: take the configuration from one of them")
	}
	if m.timeout <= 0 {
		return fmt.Errorf("-master-timeout %v: must be positive", m.timeout)
	}
	cfg, err := master.Fetch(ctx, m.addr, m.timeout)
	if err != nil {
		return fmt.Errorf("-master: %w", err)
	}
	cf.base = cfg
	return nil
}
