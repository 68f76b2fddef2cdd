package main

import (
	"fmt"
	"strings"

	"github.com/ailidani/paxi-style/benchmark"
	"github.com/ailidani/paxi-style/benchmark/target"
	"github.com/ailidani/paxi-style/paxi"
)

// The -client flag: how the benchmark reaches a paxi-style node.
const clientUsage = "client path to paxi-style nodes: rest (the REST API) or native (the binary protocol, at each\nnode's native_address)"

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

// newDB returns the benchmark's connection to a node through -target and
// -client. The native protocol is reached at the node's native_address, or
// for a node known only by its REST URL at that port + paxi.NativePortOffset.
func newDB(bf *benchFlags, cfg *paxi.Config, ep endpoint, clientID string) (benchmark.DB, error) {
	if err := checkClient(bf); err != nil {
		return nil, err
	}
	if bf.target == target.Paxi {
		nativeAddr := ""
		if ep.id != 0 && cfg.HTTPAddrs[ep.id] == ep.url { // a node of the configuration
			nativeAddr = cfg.NativeAddrs[ep.id]
			if bf.client == target.ClientNative && nativeAddr == "" {
				return nil, fmt.Errorf("-client native: node %v has no native_address in the configuration", ep.id)
			}
		}
		db, err := target.NewClient(bf.client, ep.url, nativeAddr, clientID, nativeConns, bf.timeout)
		if err != nil && bf.client == target.ClientNative {
			err = fmt.Errorf("%w (is the native protocol served there? nodes serve it at their native_address)", err)
		}
		return db, err
	}
	return target.New(bf.target, ep.url, clientID, bf.timeout)
}

// nativeList lists the native addresses of cfg's nodes, for messages.
func nativeList(cfg *paxi.Config) []string {
	var out []string
	for _, id := range cfg.IDs() {
		out = append(out, cfg.NativeAddrs[id])
	}
	return out
}
