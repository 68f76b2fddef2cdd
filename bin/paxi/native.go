package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/ailidani/paxi-style/benchmark"
	"github.com/ailidani/paxi-style/benchmark/target"
	"github.com/ailidani/paxi-style/native"
	"github.com/ailidani/paxi-style/node"
	"github.com/ailidani/paxi-style/paxi"
)

// The -client flag: how the benchmark reaches a paxi-style node.
const clientUsage = "client path to paxi-style nodes: rest (the REST API) or native (the binary protocol, at each\nnode's REST port + 1000 for now; paxi local starts it with -client native)"

// nativeConns is the number of native connections the benchmark opens per
// node; the clients at a node share them.
const nativeConns = 1

// checkClient validates -client against -target.
func checkClient(bf *benchFlags) error {
	switch bf.client {
	case target.ClientREST:
		return nil
	case target.ClientNative:
		if bf.target != target.Paxi {
			return fmt.Errorf("-client native: only -target %s nodes speak the native protocol", target.Paxi)
		}
		return nil
	}
	return fmt.Errorf("-client %q: must be one of %s", bf.client, strings.Join(target.Clients, ", "))
}

// newDB returns the benchmark's connection to the node whose REST API is
// at url, through -target and -client.
func newDB(bf *benchFlags, url, clientID string) (benchmark.DB, error) {
	if err := checkClient(bf); err != nil {
		return nil, err
	}
	if bf.target == target.Paxi {
		db, err := target.NewClient(bf.client, url, clientID, nativeConns, bf.timeout)
		if err != nil && bf.client == target.ClientNative {
			err = fmt.Errorf("%w (is the native protocol served there? paxi local -client native serves it at each REST port + %d)", err, native.PortOffset)
		}
		return db, err
	}
	return target.New(bf.target, url, clientID, bf.timeout)
}

// startNative serves the native protocol next to every node, at
// native.AddrFor of its REST address, and returns a function stopping the
// servers.
func startNative(cfg *paxi.Config, nodes []*node.Node, logger *slog.Logger) (stop func(), err error) {
	var servers []*native.Server
	stop = func() {
		for _, s := range servers {
			s.Close()
		}
	}
	for _, nd := range nodes {
		addr, err := native.AddrFor(cfg.HTTPAddrs[nd.ID()])
		if err != nil {
			stop()
			return nil, err
		}
		s := native.NewServer(nd, logger, native.OptionsFor(cfg))
		if _, err := s.Start(addr); err != nil {
			stop()
			return nil, fmt.Errorf("node %v: %w", nd.ID(), err)
		}
		servers = append(servers, s)
	}
	return stop, nil
}

// nativeList lists the native addresses of cfg's nodes, for messages.
func nativeList(cfg *paxi.Config) []string {
	var out []string
	for _, id := range cfg.IDs() {
		a, _ := native.AddrFor(cfg.HTTPAddrs[id])
		out = append(out, a)
	}
	return out
}
