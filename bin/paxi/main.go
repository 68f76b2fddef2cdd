// Command paxi runs paxi-style clusters, benchmarks them, simulates and
// checks protocols.
//
//	paxi local              start a cluster in this process and benchmark it (-sweep: to saturation)
//	paxi server             run one node of a cluster
//	paxi master             serve a cluster configuration to the nodes (server -master, bench -master)
//	paxi bench              benchmark a running cluster through its REST API
//	paxi sweep              raise the number of clients until a running cluster saturates
//	paxi floor              the machine's floor: the workload against a bare store over REST and native
//	paxi plot               draw result files (latency vs throughput, CDF, zones)
//	paxi sim                run a protocol in the deterministic simulator over many seeds
//	paxi check              check a history for linearizability, or replicas for agreement
//	paxi fault              run a fault schedule against a running cluster
//	paxi proxy              replicate an unmodified Redis through a protocol (package smr)
//	paxi wan                the WAN conflict and locality experiments (Paxi paper Figures 11 and 13)
//	paxi protocols          list the protocols
//
// Run "paxi <command> -h" for the flags of each.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"local":     {"start an N-node cluster on loopback in this process and benchmark it", runLocal},
	"server":    {"run one node of a cluster until interrupted", runServer},
	"bench":     {"benchmark a running cluster through its REST API", runBench},
	"protocols": {"list the protocols this binary can run", runProtocols},
	"sweep":     {"raise the number of clients until a running cluster saturates (same as bench sweep)", runSweep},
	"plot":      {"draw sweep, latency or stats files as PNG/SVG (latency vs throughput, CDF, zones)", runPlot},
	"check":     {"check a client history for linearizability, or replicas for agreement", runCheck},
	"fault":     {"run a fault schedule against a running cluster through its fault endpoints", runFault},
	"sim":       {"run a protocol in the deterministic simulator over many seeds, with faults, and check it", runSim},
	"master":    {"serve a cluster configuration to nodes started with -master, and collect their readiness", runMaster},
	"proxy":     {"replicate an unmodified Redis through the protocol: one redis-server and client port per replica", runProxy},
	"wan":       {"reproduce the Paxi paper's WAN conflict and locality experiments with the 5-region preset (CSV and plots)", runWAN},
	"floor":     {"measure the machine's floor: the workload against a bare store over REST and native, and a cluster's ratio to it", runFloor},
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "paxi runs, fault-tests and benchmarks consensus protocols.\n\nUsage:\n  paxi <command> [flags]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'paxi <command> -h' for the flags of a command.\n")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes a command line and returns the process exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "paxi: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := c.run(args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "paxi %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// newFlagSet returns a flag set whose -h output starts with a description.
func newFlagSet(name, description string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("paxi "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: paxi %s [flags]\n\n%s\n\nFlags:\n", name, description)
		fs.PrintDefaults()
	}
	return fs
}
