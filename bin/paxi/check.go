package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ailidani/paxi-style/checker"
	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/history"
	"github.com/ailidani/paxi-style/store"
)

func runCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", `Checks a run for correctness. Three forms:

  paxi check [-timeout D] [-all-keys] [-html out.html] history.jsonl
      checks a client history (JSON lines, as paxi bench and the simulator record it) for
      linearizability, key by key, and prints each anomalous read: a read no linearizable
      order allows. Failed reads are ignored; a failed write may have taken effect.
  paxi check -jepsen [-timeout D] [-html out.html] etcd_001.log
      checks a Jepsen etcd register log (read/write/cas) for linearizability.
  paxi check -consensus (-keys k1,k2 | -history h.jsonl) http://127.0.0.1:8081 http://127.0.0.1:8082 ...
      fetches each key's version history from every node (GET /history?detail=1&key=K) and
      checks that the nodes agree (no two differ at a position), that no write was applied
      twice at a node, and, given -history, that every applied write was proposed by a client.

Flags go before the file or URLs. Exits with status 1 on a violation, and also when the
check could not finish within -timeout or -max-heap-mb (an undecided check verifies nothing).`, stderr)
	jepsen := fs.Bool("jepsen", false, "the argument is a Jepsen etcd register log instead of a paxi-style history")
	consensus := fs.Bool("consensus", false, "the arguments are node REST URLs: check that the replicas agree instead of checking a history")
	timeout := fs.Duration("timeout", time.Minute, "time limit of the check (and, with -consensus, of fetching the histories); keys undecided by then make the verdict Unknown")
	allKeys := fs.Bool("all-keys", false, "check every key and list the anomalies of every illegal key, instead of stopping at the first illegal key")
	html := fs.String("html", "", "write porcupine's visualisation of the illegal keys (or, for a legal history, of the first keys) to this HTML `file`")
	htmlMax := fs.Int("html-max-ops", checker.DefaultVisualizeMaxOps, "most operations drawn by -html: keys that would go past it are left out, since visualising large histories can take gigabytes")
	maxHeap := fs.Uint64("max-heap-mb", 4096, "stop the check, like -timeout, when the heap grows past this many MiB (0: no limit); porcupine's memory grows fast on hard histories")
	keys := fs.String("keys", "", "with -consensus: comma-separated `keys` to compare")
	hist := fs.String("history", "", "with -consensus: client history `file` whose keys are compared and whose writes are the proposals that validity is checked against")
	reqTimeout := fs.Duration("request-timeout", 10*time.Second, "with -consensus: timeout of each request to a node")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *jepsen && *consensus {
		return errors.New("-jepsen and -consensus exclude each other")
	}
	if !*consensus && (*keys != "" || *hist != "") {
		return errors.New("-keys and -history go with -consensus")
	}
	if *consensus && (*html != "" || *allKeys) {
		return errors.New("-html and -all-keys check a history, not -consensus")
	}
	ctx := context.Background()
	if *consensus {
		return checkConsensus(ctx, fs.Args(), *keys, *hist, *timeout, *reqTimeout, stdout)
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("want one file to check, got %d arguments (see paxi check -h)", fs.NArg())
	}
	path := fs.Arg(0)
	opts := checker.Options{Timeout: *timeout, AllKeys: *allKeys, Visualize: *html, VisualizeMaxOps: *htmlMax, MaxHeap: *maxHeap << 20}
	var rep checker.Report
	if *jepsen {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		ops, err := checker.ReadJepsenEtcd(f)
		f.Close()
		if err != nil {
			return err
		}
		if rep, err = checker.CheckJepsenEtcd(ctx, ops, opts); err != nil {
			return err
		}
	} else {
		ops, err := readHistory(path)
		if err != nil {
			return err
		}
		if rep, err = checker.Linearizable(ctx, ops, opts); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%s: %s", path, rep)
	if *html != "" {
		if len(rep.Visualized) > 0 {
			fmt.Fprintf(stdout, "visualisation of %s written to %s\n", strings.Join(rep.Visualized, ", "), *html)
		} else {
			fmt.Fprintf(stdout, "no visualisation written: the keys to draw have more than %d operations (-html-max-ops)\n", *htmlMax)
		}
	}
	switch rep.Verdict {
	case checker.Illegal:
		return fmt.Errorf("%s is not linearizable: illegal keys %s", path, strings.Join(rep.IllegalKeys, ", "))
	case checker.Unknown:
		return fmt.Errorf("%s: linearizability undecided for %d of %d keys (%s): %s", path, len(rep.UnknownKeys), rep.Keys, rep.Stopped, raise(rep.Stopped))
	}
	return nil
}

// raise says which flag lifts the limit a check stopped at.
func raise(stopped string) string {
	if stopped == "memory limit" {
		return "raise -max-heap-mb"
	}
	return "raise -timeout"
}

func readHistory(path string) ([]history.Operation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ops, err := history.Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ops, nil
}

// checkConsensus fetches every key's history from every node, one
// goroutine per node, and runs the consensus checker.
func checkConsensus(ctx context.Context, nodes []string, keyList, histPath string, timeout, reqTimeout time.Duration, stdout io.Writer) error {
	if len(nodes) == 0 {
		return errors.New("-consensus: name the nodes' REST URLs, e.g. http://127.0.0.1:8081")
	}
	var clients []history.Operation
	keySet := make(map[string]bool)
	for k := range strings.SplitSeq(keyList, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keySet[k] = true
		}
	}
	if histPath != "" {
		ops, err := readHistory(histPath)
		if err != nil {
			return err
		}
		clients = ops
		if clients == nil {
			clients = []history.Operation{} // a history was given: check validity
		}
		for _, o := range ops {
			keySet[o.Key] = true
		}
	}
	if len(keySet) == 0 {
		return errors.New("-consensus: no keys to compare: give -keys k1,k2 or -history h.jsonl")
	}
	keys := make([]string, 0, len(keySet))
	for k := range keySet {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	replicas := make(map[string]map[string][]store.Version, len(nodes))
	errs := make([]error, len(nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, base := range nodes {
		wg.Go(func() {
			c := client.NewREST(base, "", reqTimeout)
			h := make(map[string][]store.Version, len(keys))
			for _, k := range keys {
				vs, err := c.HistoryDetail(ctx, k)
				if err != nil {
					errs[i] = fmt.Errorf("node %s: key %s: %w", base, k, err)
					return
				}
				h[k] = vs
			}
			mu.Lock()
			replicas[base] = h
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	rep := checker.Consensus(replicas, clients)
	fmt.Fprint(stdout, rep)
	if !rep.Ok() {
		return fmt.Errorf("replicas violate consensus: %d violations", len(rep.Violations))
	}
	return nil
}
