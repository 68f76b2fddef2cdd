package checker

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/ailidani/paxi-style/history"
)

// Verdict is the outcome of a linearizability check. It mirrors porcupine's
// CheckResult: checking is NP-hard, so a check with a timeout can end
// without an answer.
//
// Unknown means the check ran out of time (or its context was cancelled)
// before deciding some key, and no key was found illegal. It is not a pass:
// nothing is known about the undecided keys. Depending on the use it may be
// read as "no violation found in the time given".
type Verdict string

// The verdicts.
const (
	// Ok: every key's operations have a linearization.
	Ok Verdict = "Ok"
	// Illegal: some key's operations have none.
	Illegal Verdict = "Illegal"
	// Unknown: the check timed out or was cancelled; see Verdict.
	Unknown Verdict = "Unknown"
)

// DefaultVisualizeMaxOps is the default cap on the operations written to a
// visualisation. Porcupine computes partial linearizations for it, which on
// a large illegal partition can take tens of gigabytes (PEERS.md); a
// thousand operations are also about as many as a browser shows usefully.
const DefaultVisualizeMaxOps = 1000

// Options adjust a check. The zero value checks without a time limit (other
// than the context's), stops at the first illegal key and writes no
// visualisation.
type Options struct {
	// Timeout bounds the check and the search for anomalies together; the
	// visualisation, when asked for, gets the same amount again. Zero
	// means no limit besides the context. When it runs out (or MaxHeap is
	// reached, or the context is done), undecided keys are Unknown and the
	// anomaly search stops where it is.
	Timeout time.Duration
	// AllKeys checks every key even after one is found illegal, and looks
	// for anomalies in every illegal key. Without it the check stops at the
	// first illegal key in sorted order, which is cheaper and enough to
	// know that the history is wrong.
	AllKeys bool
	// Visualize is the path of an HTML file to write porcupine's
	// visualisation of the history to, or "" for none. Only illegal keys
	// are drawn when there are any, otherwise every key, in sorted order
	// and while the total stays within VisualizeMaxOps; keys that do not
	// fit are left out (Report.Visualized lists those drawn).
	Visualize string
	// VisualizeMaxOps caps the operations drawn; 0 means
	// DefaultVisualizeMaxOps.
	VisualizeMaxOps int
	// MaxHeap stops the check, like the timeout, when the process's heap
	// grows past this many bytes; 0 means no limit. Porcupine remembers
	// every state it has explored, and on a hard history (many operations
	// in flight on one key) that grows by gigabytes a minute. The heap is
	// the whole process's, sampled every 20 ms, so leave room for the rest
	// of the program and for the overshoot.
	MaxHeap uint64

	_ struct{} // disallow positional literals, for extensibility
}

// Anomaly is a read that no linearization allows: with the writes of its key
// and the reads kept before it, the read's result cannot be explained. See
// the package documentation for how anomalies are chosen.
type Anomaly struct {
	// Index is the operation's position in the history given to the check.
	Index int
	// Op is the operation itself.
	Op history.Operation
	// Reason says why no linearization allows the result, naming the
	// operations that rule it out where it can.
	Reason string
	// Related are the indices of the operations Reason names.
	Related []int
}

// String prints the anomaly on one line, e.g.
// `#7 c2 get(x)="1" [40,50]: stale: ...`.
func (a Anomaly) String() string {
	return fmt.Sprintf("#%d %s: %s", a.Index, a.Op, a.Reason)
}

// Report is the result of Linearizable (and of CheckJepsenEtcd). Its
// contents are deterministic for a given history, unless a timeout cut the
// check short.
type Report struct {
	// Verdict is the overall answer.
	Verdict Verdict
	// Keys is the number of keys (porcupine partitions) in the history.
	Keys int
	// Ops is the number of operations checked: those of the history less
	// the failed reads.
	Ops int
	// FailedWrites counts writes with an error; they were checked as
	// possibly taking effect at any time after their call.
	FailedWrites int
	// DroppedReads counts reads with an error, which tell nothing.
	DroppedReads int
	// IllegalKeys are the keys with no linearization, sorted. Unless
	// Options.AllKeys was set it holds at most the first one.
	IllegalKeys []string
	// UnknownKeys are the keys the check could not decide in time, sorted.
	UnknownKeys []string
	// Anomalies are the reads found to be impossible in IllegalKeys,
	// ordered by Index.
	Anomalies []Anomaly
	// AnomaliesIncomplete is set when the anomaly search ran out of
	// budget (see Stopped): there may be more anomalies than listed, and
	// some reasons are less specific.
	AnomaliesIncomplete bool
	// Visualized are the keys drawn in Options.Visualize, sorted.
	Visualized []string
	// Stopped says why the check or the anomaly search stopped before the
	// end: "timeout", "memory limit" (Options.MaxHeap) or "cancelled"; ""
	// when they ran to the end.
	Stopped string
}

// String prints a summary line followed by one line per anomaly.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s on %s", r.Verdict, plural(r.Ops, "operation"), plural(r.Keys, "key"))
	if r.FailedWrites > 0 || r.DroppedReads > 0 {
		fmt.Fprintf(&b, " (%s that may have happened; %s dropped)", plural(r.FailedWrites, "failed write"), plural(r.DroppedReads, "failed read"))
	}
	if len(r.IllegalKeys) > 0 {
		fmt.Fprintf(&b, "; illegal keys: %s", strings.Join(r.IllegalKeys, ", "))
	}
	if len(r.UnknownKeys) > 0 {
		fmt.Fprintf(&b, "; %s undecided (%s)", plural(len(r.UnknownKeys), "key"), r.Stopped)
	}
	b.WriteString("\n")
	for _, a := range r.Anomalies {
		fmt.Fprintf(&b, "anomaly %s\n", a)
	}
	if r.AnomaliesIncomplete {
		fmt.Fprintf(&b, "anomaly search stopped (%s): there may be more\n", r.Stopped)
	}
	return b.String()
}

// plural prints a count and a noun, e.g. "1 key", "2 keys".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// Linearizable checks that a client history of the key-value store is
// linearizable, key by key, with porcupine as the engine (KVModel), and
// finds the anomalous reads of the illegal keys. Failed operations follow
// the history package: a failed read is dropped, a failed write may have
// taken effect any time after its call.
//
// The error is for invalid input (an operation that fails Validate) and for
// a visualisation that could not be written; a violation is a Verdict, not
// an error. Cancelling ctx makes undecided keys Unknown.
func Linearizable(ctx context.Context, ops []history.Operation, opts Options) (Report, error) {
	for i, o := range ops {
		if err := o.Validate(); err != nil {
			return Report{}, fmt.Errorf("checker: operation %d: %w", i, err)
		}
	}
	var rep Report
	for _, o := range ops {
		if o.Error == "" {
			continue
		}
		if o.Kind == history.Get {
			rep.DroppedReads++
		} else {
			rep.FailedWrites++
		}
	}
	pops := KVOperations(ops)
	rep.Ops = len(pops)
	parts := kvPartition(pops)
	keys := make([]string, len(parts))
	for i, p := range parts {
		keys[i] = p[0].Input.(kvInput).key
	}
	rep.Keys = len(parts)

	b := newBudget(ctx, opts.Timeout, opts.MaxHeap)
	defer b.close()
	verdicts := checkPartitions(len(parts), b, opts.AllKeys, func(i int, stop func() bool) Verdict {
		if ruledOut(parts[i], ops) {
			return Illegal
		}
		return checkOne(kvModelStop, parts[i], stop)
	})
	var illegal []int
	for i, v := range verdicts {
		switch v {
		case Illegal:
			illegal = append(illegal, i)
			rep.IllegalKeys = append(rep.IllegalKeys, keys[i])
		case Unknown:
			rep.UnknownKeys = append(rep.UnknownKeys, keys[i])
		}
	}
	switch {
	case len(illegal) > 0:
		rep.Verdict = Illegal
	case len(rep.UnknownKeys) > 0:
		rep.Verdict = Unknown
	default:
		rep.Verdict = Ok
	}

	// Anomalies, one illegal key per worker.
	results := make([]anomalySearch, len(illegal))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for j, i := range illegal {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results[j] = findAnomalies(parts[i], ops, b)
		})
	}
	wg.Wait()
	for _, r := range results {
		rep.Anomalies = append(rep.Anomalies, r.anomalies...)
		rep.AnomaliesIncomplete = rep.AnomaliesIncomplete || r.incomplete
	}
	sort.Slice(rep.Anomalies, func(i, j int) bool { return rep.Anomalies[i].Index < rep.Anomalies[j].Index })
	if len(rep.UnknownKeys) > 0 || rep.AnomaliesIncomplete {
		rep.Stopped = b.stopped()
	}

	if opts.Visualize != "" {
		var chosen []int
		if len(illegal) > 0 {
			chosen = illegal
		} else {
			for i := range parts {
				chosen = append(chosen, i)
			}
		}
		vb := newBudget(ctx, opts.Timeout, opts.MaxHeap)
		defer vb.close()
		drawn, err := visualize(opts.Visualize, KVModel(), parts, chosen, opts.VisualizeMaxOps, anomalyAnnotations(rep.Anomalies, keys), vb)
		if err != nil {
			return rep, err
		}
		for _, i := range drawn {
			rep.Visualized = append(rep.Visualized, keys[i])
		}
	}
	return rep, nil
}

// anomalySearch is what findAnomalies found in one key.
type anomalySearch struct {
	anomalies  []Anomaly
	incomplete bool
}

// maxConflictProbes bounds how many kept reads are tried, one at a time, to
// name the read an anomaly contradicts.
const maxConflictProbes = 16

// splitKey separates a key's writes, sorted by call time, from its reads,
// sorted by call time (stably, so ties keep history order).
func splitKey(part []porcupine.Operation) (writes, reads []porcupine.Operation) {
	for _, p := range part {
		if p.Input.(kvInput).kind == kvGet {
			reads = append(reads, p)
		} else {
			writes = append(writes, p)
		}
	}
	sort.SliceStable(writes, func(i, j int) bool { return writes[i].Call < writes[j].Call })
	sort.SliceStable(reads, func(i, j int) bool { return reads[i].Call < reads[j].Call })
	return writes, reads
}

// ruledOut reports whether the real-time scan rules out some read of a key,
// which makes the key illegal without running porcupine.
func ruledOut(part []porcupine.Operation, ops []history.Operation) bool {
	writes, reads := splitKey(part)
	sc := newScanner(writes)
	for _, r := range reads {
		if sc.judge(r, ops).ruledOut {
			return true
		}
	}
	return false
}

// findAnomalies finds the anomalous reads of one illegal key: a greedy
// search that keeps the reads (in order of their call times) that the
// writes and the reads kept so far allow, and reports the others. The
// writes of a key alone are always linearizable, since a put or delete can
// follow any state, so an illegal key has at least one anomaly.
//
// First the real-time scan (scan.go) removes the reads the writes alone
// rule out; the greedy search would reject those whatever it kept. For the
// rest, trying one read at a time would take a porcupine run per read, so
// the search adds all remaining reads at once and, when that is illegal,
// finds the first read that breaks it by exponential then binary search.
// Checks are monotone (removing reads from a linearizable history keeps it
// linearizable), so the result is the same as the one-at-a-time greedy, at
// O(log n) runs per anomaly. The kept reads plus the writes are then
// linearizable, and every anomaly contradicts them. Every run draws on the
// budget; when it runs out the search stops and says so.
func findAnomalies(part []porcupine.Operation, ops []history.Operation, b *budget) anomalySearch {
	writes, reads := splitKey(part)
	var res anomalySearch
	sc := newScanner(writes)
	var rest []porcupine.Operation
	for _, r := range reads {
		if v := sc.judge(r, ops); v.ruledOut {
			idx := r.Metadata.(kvMeta).index
			res.anomalies = append(res.anomalies, Anomaly{Index: idx, Op: ops[idx], Reason: v.reason, Related: v.related})
		} else {
			rest = append(rest, r)
		}
	}
	reads = rest

	// check runs porcupine on the writes and the given reads. Writes
	// called after every one of those reads returned are left out: they
	// can always be placed after all of them, so they do not change the
	// verdict, and without them the run is shorter.
	check := func(extra ...[]porcupine.Operation) Verdict {
		end := int64(math.MinInt64)
		n := 0
		for _, e := range extra {
			for _, r := range e {
				end = max(end, r.Return)
			}
			n += len(e)
		}
		cut := sort.Search(len(writes), func(i int) bool { return writes[i].Call > end })
		h := make([]porcupine.Operation, 0, cut+n)
		h = append(h, writes[:cut]...)
		for _, e := range extra {
			h = append(h, e...)
		}
		return checkOne(kvModelStop, h, b.done)
	}

	var kept, bad []porcupine.Operation
	for i := 0; i < len(reads); {
		// Invariant: writes + kept is linearizable.
		v := check(kept, reads[i:])
		if v == Ok {
			kept = append(kept, reads[i:]...)
			break
		}
		if v == Unknown {
			res.incomplete = true
			break
		}
		// The prefix reads[i:good+1] is fine, reads[i:worst+1] is not.
		good, worst := i-1, len(reads)-1
		for step := 1; good+step < worst; step *= 2 {
			probe := good + step
			v := check(kept, reads[i:probe+1])
			if v == Unknown {
				res.incomplete = true
				break
			}
			if v == Illegal {
				worst = probe
				break
			}
			good = probe
		}
		for !res.incomplete && worst-good > 1 {
			mid := (good + worst) / 2
			switch check(kept, reads[i:mid+1]) {
			case Unknown:
				res.incomplete = true
			case Illegal:
				worst = mid
			default:
				good = mid
			}
		}
		if res.incomplete {
			break
		}
		kept = append(kept, reads[i:worst]...)
		bad = append(bad, reads[worst])
		i = worst + 1
	}

	for _, r := range bad {
		idx := r.Metadata.(kvMeta).index
		reason, related := explain(r, kept, ops, check, b)
		res.anomalies = append(res.anomalies, Anomaly{Index: idx, Op: ops[idx], Reason: reason, Related: related})
	}
	return res
}

// explain says why read r, which the real-time scan let through, is
// impossible: the writes alone rule it out in a way the scan does not see,
// or it contradicts a kept read (the two saw the writes in opposite
// orders), which it names. It spends at most 1+maxConflictProbes runs.
func explain(r porcupine.Operation, kept []porcupine.Operation, ops []history.Operation, check func(...[]porcupine.Operation) Verdict, b *budget) (string, []int) {
	in := r.Input.(kvInput)
	out := r.Output.(kvOutput)
	result := "nil"
	if out.found {
		result = quoteShort(out.value)
	}
	generic := fmt.Sprintf("returned %s, which no linearization of the writes and kept reads of key %q allows", result, in.key)
	if b.done() {
		return generic, nil
	}
	switch check([]porcupine.Operation{r}) {
	case Illegal:
		return fmt.Sprintf("returned %s, which no order of the writes of key %q allows", result, in.key), nil
	case Ok:
		// The writes allow it; some kept read does not. Try the kept reads
		// nearest in time first.
		cands := append([]porcupine.Operation(nil), kept...)
		dist := func(a porcupine.Operation) int64 {
			d := a.Call - r.Call
			if d < 0 {
				return -d
			}
			return d
		}
		sort.SliceStable(cands, func(i, j int) bool { return dist(cands[i]) < dist(cands[j]) })
		for i, a := range cands {
			if i == maxConflictProbes || b.done() {
				break
			}
			if check([]porcupine.Operation{a, r}) == Illegal {
				return fmt.Sprintf("returned %s, which contradicts %s: no order of the writes of key %q lets both results be seen", result, describe(a, ops), in.key),
					[]int{a.Metadata.(kvMeta).index}
			}
		}
		return fmt.Sprintf("returned %s, which no order of the writes of key %q allows together with the %d reads kept before it", result, in.key, len(kept)), nil
	}
	return generic, nil
}

// describe names an operation of the history as `#i c1 put(k,"v") [10,20]`.
func describe(p porcupine.Operation, ops []history.Operation) string {
	i := p.Metadata.(kvMeta).index
	return "#" + strconv.Itoa(i) + " " + ops[i].String()
}

// anomalyAnnotations marks the anomalies of the drawn keys in a row of their
// own in the visualisation.
func anomalyAnnotations(anoms []Anomaly, keys []string) func(drawn []int) []porcupine.Annotation {
	return func(drawn []int) []porcupine.Annotation {
		in := make(map[string]bool)
		for _, i := range drawn {
			in[keys[i]] = true
		}
		var out []porcupine.Annotation
		for _, a := range anoms {
			if !in[a.Op.Key] {
				continue
			}
			out = append(out, porcupine.Annotation{
				Tag:             "anomalies",
				Start:           a.Op.Call,
				End:             a.Op.Return,
				Description:     "#" + strconv.Itoa(a.Index),
				Details:         a.Reason,
				BackgroundColor: "#f4b6b6",
			})
		}
		return out
	}
}

// visualize writes porcupine's visualisation of the chosen partitions, in
// order, skipping those that would take the total past maxOps, and returns
// the partitions drawn. The verbose check behind it runs on its own budget.
func visualize(path string, model porcupine.Model, parts [][]porcupine.Operation, chosen []int, maxOps int, notes func(drawn []int) []porcupine.Annotation, b *budget) ([]int, error) {
	if maxOps <= 0 {
		maxOps = DefaultVisualizeMaxOps
	}
	var drawn []int
	var ops []porcupine.Operation
	for _, i := range chosen {
		if len(ops)+len(parts[i]) > maxOps {
			continue
		}
		drawn = append(drawn, i)
		ops = append(ops, parts[i]...)
	}
	if len(drawn) == 0 {
		return nil, nil
	}
	step := model.Step
	model.Step = func(state, input, output any) (bool, any) {
		if b.done() {
			return false, state
		}
		return step(state, input, output)
	}
	_, info := porcupine.CheckOperationsVerbose(model, ops, 0)
	if notes != nil {
		info.AddAnnotations(notes(drawn))
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("checker: visualisation: %w", err)
	}
	if err := porcupine.Visualize(model, info, f); err != nil {
		f.Close()
		return nil, fmt.Errorf("checker: visualisation: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("checker: visualisation: %w", err)
	}
	return drawn, nil
}
