package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/fault"
)

func runFault(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fault", "Runs a fault schedule against a running cluster through its nodes' fault endpoints (/crash,\n/drop, /slow, /flaky, /heal), in real time from now. The same schedule file runs in the simulator\nwith paxi sim -schedule. Schedule lines look like:\n\n  at 10s crash leader for 3s\n  at 12s partition zone 2\n  at 15s drop 1.1 -> 1.2 for 3s\n  at 20s heal\n\n(see the fault package documentation for every action and the JSON form).", stderr)
	var cf clusterFlags
	cf.register(fs)
	schedule := fs.String("schedule", "", "fault schedule `file` (text or JSON); required")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *schedule == "" {
		return errors.New("-schedule is required")
	}
	s, err := fault.Load(*schedule)
	if err != nil {
		return err
	}
	cfg, err := cf.load(nil)
	if err != nil {
		return err
	}
	start := time.Now()
	failed := 0
	err = fault.Run(context.Background(), s, client.NewInjector(cfg), start, func(a fault.Action, err error) {
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "%8.3fs FAILED %v\n", time.Since(start).Seconds(), err)
			return
		}
		fmt.Fprintf(stdout, "%8.3fs %v\n", time.Since(start).Seconds(), a)
	})
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d actions failed", failed, len(s))
	}
	return nil
}
