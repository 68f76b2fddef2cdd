package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ailidani/paxi-style/node"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols"
)

func runServer(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("server", "Runs one node of a cluster: its protocol replica, its transport to the other nodes and\nits REST API, until SIGINT or SIGTERM. Start one per node, each with its own -id and the same\nconfiguration.", stderr)
	var cf clusterFlags
	cf.register(fs)
	idFlag := fs.String("id", "", "this node's `ID` (zone.node, e.g. 1.1); required")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *idFlag == "" {
		return errors.New("-id is required: name this node, e.g. -id 1.1")
	}
	id, err := paxi.ParseID(*idFlag)
	if err != nil {
		return fmt.Errorf("-id: %w", err)
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
	select {
	case s := <-signals():
		fmt.Fprintf(stderr, "paxi server %v: %v, stopping\n", id, s)
	case <-n.Done():
	}
	return n.Close()
}

// signals returns a channel that receives SIGINT and SIGTERM.
func signals() <-chan os.Signal {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	return sig
}

func waitSignal() { <-signals() }
