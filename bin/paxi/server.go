package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ailidani/paxi-style/master"
	"github.com/ailidani/paxi-style/node"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols"
)

func runServer(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("server", "Runs one node of a cluster: its protocol replica, its transport to the other nodes and\nits REST API, until SIGINT or SIGTERM. Start one per node, each with its own -id and the same\nconfiguration.", stderr)
	var cf clusterFlags
	var mf masterFlags
	cf.register(fs)
	mf.register(fs)
	idFlag := fs.String("id", "", "this node's `ID` (zone.node, e.g. 1.1); required unless -zone and -index are given")
	zone := fs.Int("zone", 0, "with -index, instead of -id: this node's zone (e.g. from a Kubernetes label)")
	index := fs.Int("index", -1, "with -zone, instead of -id: this node's 0-based index in its zone (e.g. a StatefulSet\npod ordinal); the ID is zone.(index+1)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	id, err := serverID(*idFlag, *zone, *index)
	if err != nil {
		return err
	}
	if err := mf.fetch(context.Background(), &cf); err != nil {
		return err
	}
	cfg, err := cf.load(nil)
	if err != nil {
		return err
	}
	if cfg.Transport == paxi.TransportChan {
		return errors.New("transport \"chan\" only connects nodes in one process: use paxi local, or tcp/udp")
	}
	p, err := protocols.Lookup(cfg.Protocol)
	if err != nil {
		return err
	}
	n, err := node.New(cfg, id, p, node.Options{})
	if err != nil {
		return err
	}
	n.Run()
	if mf.addr != "" {
		go reportReady(mf, id, stderr)
	}
	select {
	case s := <-signals():
		fmt.Fprintf(stderr, "paxi server %v: %v, stopping\n", id, s)
	case <-n.Done():
	}
	return n.Close()
}

// serverID reads the node's ID from -id, or from -zone and -index.
func serverID(idFlag string, zone, index int) (paxi.ID, error) {
	switch {
	case idFlag != "" && (zone != 0 || index >= 0):
		return 0, errors.New("-id and -zone/-index both given: name the node one way")
	case idFlag != "":
		id, err := paxi.ParseID(idFlag)
		if err != nil {
			return 0, fmt.Errorf("-id: %w", err)
		}
		return id, nil
	case zone == 0 && index < 0:
		return 0, errors.New("-id is required: name this node, e.g. -id 1.1 (or give -zone and -index)")
	case zone < 1 || zone > 0xffff || index < 0 || index >= 0xffff:
		return 0, fmt.Errorf("-zone %d -index %d: want a zone in [1, 65535] and an index in [0, 65534], both given", zone, index)
	}
	return paxi.NewID(zone, index+1), nil
}

// reportReady tells the configuration master that this node serves. A
// master that cannot be reached is worth a warning, not a stop: the cluster
// does not need it once it runs.
func reportReady(mf masterFlags, id paxi.ID, stderr io.Writer) {
	r, err := master.Report(context.Background(), mf.addr, id, mf.timeout)
	if err != nil {
		fmt.Fprintf(stderr, "paxi server %v: could not report readiness: %v\n", id, err)
		return
	}
	fmt.Fprintf(stderr, "paxi server %v: reported ready to master %s (%d of %d nodes ready)\n", id, mf.addr, len(r.Ready), len(r.Nodes))
}

// signals returns a channel that receives SIGINT and SIGTERM.
func signals() <-chan os.Signal {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	return sig
}

func waitSignal() { <-signals() }
