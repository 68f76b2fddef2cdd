package checker_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/ailidani/paxi-style/checker"
	"github.com/ailidani/paxi-style/history"
)

// Helpers to draw histories: client, key, value, call, return.

func put(c, k, v string, call, ret int64) history.Operation {
	return history.Operation{Client: c, Kind: history.Put, Key: k, Input: []byte(v), Call: call, Return: ret}
}

func del(c, k string, call, ret int64) history.Operation {
	return history.Operation{Client: c, Kind: history.Delete, Key: k, Call: call, Return: ret}
}

func get(c, k, v string, call, ret int64) history.Operation {
	return history.Operation{Client: c, Kind: history.Get, Key: k, Output: []byte(v), Found: true, Call: call, Return: ret}
}

func getNil(c, k string, call, ret int64) history.Operation {
	return history.Operation{Client: c, Kind: history.Get, Key: k, Call: call, Return: ret}
}

func failed(o history.Operation) history.Operation {
	o.Error = "timeout"
	o.Return = o.Call + 1000 // when the client gave up; irrelevant to the check
	return o
}

// hand is a small history drawn by hand. want is the verdict, anomalies the
// indices of the reads that must be reported, and reason a word each
// anomaly's reason must contain.
type hand struct {
	name      string
	ops       []history.Operation
	want      checker.Verdict
	anomalies []int
	reason    string
}

// Time runs left to right, one column per time unit of 10; each row is a
// client. Brackets are an operation's [call, return].
var handDrawn = []hand{
	{
		// c1: [put(x,1)]
		// c2:             [get(x)=1]
		name: "read after write",
		ops:  []history.Operation{put("c1", "x", "1", 0, 10), get("c2", "x", "1", 20, 30)},
		want: checker.Ok,
	},
	{
		// c1: [get(x)=nil]  [put(x,1)]
		name: "initial state is absent",
		ops:  []history.Operation{getNil("c1", "x", 0, 10), put("c1", "x", "1", 20, 30)},
		want: checker.Ok,
	},
	{
		// c1: [put(x,1)] [put(x,2)]
		// c2:                        [get(x)=1]      <- stale: put(x,2) returned before
		name:      "stale read after a completed write",
		ops:       []history.Operation{put("c1", "x", "1", 0, 10), put("c1", "x", "2", 20, 30), get("c2", "x", "1", 40, 50)},
		want:      checker.Illegal,
		anomalies: []int{2},
		reason:    "stale",
	},
	{
		// c1: [put(x,1)]
		// c2:             [get(x)=7]    <- nobody wrote 7
		name:      "read of a value never written",
		ops:       []history.Operation{put("c1", "x", "1", 0, 10), get("c2", "x", "7", 20, 30)},
		want:      checker.Illegal,
		anomalies: []int{1},
		reason:    "no put",
	},
	{
		// c1: [put(x,1)] [put(x,2)]
		// c2:                       [get(x)=nil]    <- stale: the key was written
		name:      "stale nil",
		ops:       []history.Operation{put("c1", "x", "1", 0, 10), put("c1", "x", "2", 20, 30), getNil("c2", "x", 40, 50)},
		want:      checker.Illegal,
		anomalies: []int{2},
		reason:    "stale",
	},
	{
		// c1: [put(x,1)] [delete(x)]
		// c2:                        [get(x)=1]     <- stale: deleted
		// c3:                                  [get(x)=nil]
		name:      "read after delete",
		ops:       []history.Operation{put("c1", "x", "1", 0, 10), del("c1", "x", 20, 30), get("c2", "x", "1", 40, 50), getNil("c3", "x", 60, 70)},
		want:      checker.Illegal,
		anomalies: []int{2},
		reason:    "stale",
	},
	{
		// c1: [put(x,1)] [----------put(x,2)----------]
		// c2:               [get(x)=2]
		// c3:                          [get(x)=1]   <- new-old inversion
		name: "two reads disagree on the order",
		ops: []history.Operation{
			put("c1", "x", "1", 0, 10), put("c1", "x", "2", 20, 100),
			get("c2", "x", "2", 30, 40), get("c3", "x", "1", 50, 60),
		},
		want:      checker.Illegal,
		anomalies: []int{3},
		reason:    "contradicts #2",
	},
	{
		// c1: [put(x,1)] [----------put(x,2)----------]
		// c2:               [get(x)=1]
		// c3:                          [get(x)=2]   <- old then new: fine
		name: "two reads in the order of the writes",
		ops: []history.Operation{
			put("c1", "x", "1", 0, 10), put("c1", "x", "2", 20, 100),
			get("c2", "x", "1", 30, 40), get("c3", "x", "2", 50, 60),
		},
		want: checker.Ok,
	},
	{
		// c1: [put(x,1) failed ...............
		// c2:                [get(x)=1]     <- the failed write happened
		name: "failed write that may have happened explains a later read",
		ops:  []history.Operation{failed(put("c1", "x", "1", 0, 10)), get("c2", "x", "1", 5000, 5010)},
		want: checker.Ok,
	},
	{
		// c1: [put(x,1)] [put(x,2) failed .......
		// c2:                                 [get(x)=1]  [get(x)=2]  [get(x)=1]
		// The failed put may take effect between the reads, not undo itself.
		name: "failed write takes effect once",
		ops: []history.Operation{
			put("c1", "x", "1", 0, 10), failed(put("c1", "x", "2", 20, 30)),
			get("c2", "x", "1", 5000, 5010), get("c2", "x", "2", 5020, 5030), get("c2", "x", "1", 5040, 5050),
		},
		want:      checker.Illegal,
		anomalies: []int{4},
	},
	{
		// c2: [get(x)=1]
		// c1:             [put(x,1) failed .......   <- called after the read returned
		name:      "failed write cannot explain an earlier read",
		ops:       []history.Operation{get("c2", "x", "1", 0, 10), failed(put("c1", "x", "1", 20, 30))},
		want:      checker.Illegal,
		anomalies: []int{0},
		reason:    "before any put",
	},
	{
		// c1: [get(x)="zzz" failed]   <- a failed read says nothing
		name: "failed read is dropped",
		ops:  []history.Operation{failed(get("c1", "x", "zzz", 0, 10))},
		want: checker.Ok,
	},
	{
		// c1: [---put(x,1)---]
		// c2:    [---put(x,2)---]
		// c3:                      [get(x)=1]
		// c4:                                  [get(x)=1]
		name: "concurrent writes read as 1",
		ops: []history.Operation{
			put("c1", "x", "1", 0, 20), put("c2", "x", "2", 5, 25),
			get("c3", "x", "1", 30, 40), get("c4", "x", "1", 50, 60),
		},
		want: checker.Ok,
	},
	{
		// c1: [---put(x,1)---]
		// c2:    [---put(x,2)---]
		// c3:                      [get(x)=2]
		name: "concurrent writes read as 2",
		ops: []history.Operation{
			put("c1", "x", "1", 0, 20), put("c2", "x", "2", 5, 25),
			get("c3", "x", "2", 30, 40),
		},
		want: checker.Ok,
	},
	{
		// c1: [---put(x,1)---]
		// c2:    [---put(x,2)---]
		// c3:                      [get(x)=1]
		// c4:                                  [get(x)=2]   <- the writes have ended: no flip back
		name: "concurrent writes read in both orders after they end",
		ops: []history.Operation{
			put("c1", "x", "1", 0, 20), put("c2", "x", "2", 5, 25),
			get("c3", "x", "1", 30, 40), get("c4", "x", "2", 50, 60),
		},
		want:      checker.Illegal,
		anomalies: []int{3},
		reason:    "contradicts #2",
	},
	{
		// c1: [put(x,1)]
		// c2:          [get(x)=1]    <- shares the instant 10: concurrent (closed intervals)
		name: "closed intervals touch",
		ops:  []history.Operation{put("c1", "x", "1", 0, 10), get("c2", "x", "1", 10, 20)},
		want: checker.Ok,
	},
	{
		// c1: [put(x,1)]
		// c2:          [put(x,2)]
		// c3:                       [get(x)=1]   <- put(x,2) may come first: they share 10
		name: "closed intervals touch, writes",
		ops:  []history.Operation{put("c1", "x", "1", 0, 10), put("c2", "x", "2", 10, 20), get("c3", "x", "1", 30, 40)},
		want: checker.Ok,
	},
	{
		// c1: [put(x,1)]
		// c2:          [get(x)=nil]  <- also fine: the put may come after
		name: "closed intervals touch, read first",
		ops:  []history.Operation{put("c1", "x", "1", 0, 10), getNil("c2", "x", 10, 20)},
		want: checker.Ok,
	},
	{
		// key x: c1: [put(x,1)]             [get(x)=1]
		// key y: c2: [put(y,1)] [put(y,2)]              [get(y)=1]   <- stale
		name: "one bad key among good ones",
		ops: []history.Operation{
			put("c1", "x", "1", 0, 10), put("c2", "y", "1", 0, 10), put("c2", "y", "2", 20, 30),
			get("c1", "x", "1", 40, 50), get("c3", "y", "1", 60, 70),
		},
		want:      checker.Illegal,
		anomalies: []int{4},
		reason:    "stale",
	},
}

func TestLinearizableHandDrawn(t *testing.T) {
	for _, tc := range handDrawn {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := checker.Linearizable(context.Background(), tc.ops, checker.Options{Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Verdict != tc.want {
				t.Fatalf("verdict %s, want %s\n%s", rep.Verdict, tc.want, rep)
			}
			var got []int
			for _, a := range rep.Anomalies {
				got = append(got, a.Index)
				if a.Op.String() != tc.ops[a.Index].String() {
					t.Errorf("anomaly #%d names %v, want %v", a.Index, a.Op, tc.ops[a.Index])
				}
				if !strings.Contains(a.Reason, tc.reason) {
					t.Errorf("anomaly %v: reason does not mention %q", a, tc.reason)
				}
			}
			if !slices.Equal(got, tc.anomalies) {
				t.Errorf("anomalies %v, want %v\n%s", got, tc.anomalies, rep)
			}
			if rep.AnomaliesIncomplete {
				t.Errorf("anomaly search incomplete")
			}
			// Differential: porcupine on the whole history, partitioned by
			// its own means.
			if want := porcupine.CheckOperations(checker.KVModel(), checker.KVOperations(tc.ops)); want != (tc.want == checker.Ok) {
				t.Errorf("porcupine says linearizable=%v", want)
			}
		})
	}
}

func TestReportCounts(t *testing.T) {
	ops := []history.Operation{
		put("c1", "x", "1", 0, 10), failed(put("c1", "y", "1", 20, 30)),
		failed(get("c2", "x", "1", 0, 10)), get("c2", "x", "1", 20, 30),
	}
	rep, err := checker.Linearizable(context.Background(), ops, checker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The failed put of y was never read, so it is not checked at all: y
	// disappears from the check.
	if rep.Verdict != checker.Ok || rep.Keys != 1 || rep.Ops != 2 || rep.FailedWrites != 1 || rep.DroppedReads != 1 {
		t.Errorf("report %+v", rep)
	}
}

// Failed writes nobody read are dropped before the search; failed writes
// that a read saw still explain that read.
func TestUnseenFailedWritesDropped(t *testing.T) {
	var ops []history.Operation
	for i := range 200 {
		ops = append(ops, failed(put("w", "k", fmt.Sprint("lost", i), int64(10*i), 0)))
	}
	ops = append(ops, failed(put("w2", "k", "seen", 5, 0)), get("r", "k", "seen", 3000, 3010))
	rep, err := checker.Linearizable(context.Background(), ops, checker.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != checker.Ok || rep.Ops != 2 {
		t.Fatalf("report %+v", rep)
	}
}

// Two illegal keys: the check stops at the first in sorted order unless
// asked for all.
func TestAllKeys(t *testing.T) {
	var ops []history.Operation
	for _, k := range []string{"d", "b", "a", "c"} {
		ops = append(ops, put("c1", k, "1", 0, 10), put("c1", k, "2", 20, 30))
		if k == "b" || k == "d" {
			ops = append(ops, get("c2", k, "1", 40, 50)) // stale
		} else {
			ops = append(ops, get("c2", k, "2", 40, 50))
		}
	}
	rep, err := checker.Linearizable(context.Background(), ops, checker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != checker.Illegal || !slices.Equal(rep.IllegalKeys, []string{"b"}) || len(rep.Anomalies) != 1 || rep.Anomalies[0].Index != 5 {
		t.Errorf("first illegal key: %+v", rep)
	}
	rep, err = checker.Linearizable(context.Background(), ops, checker.Options{AllKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	var idx []int
	for _, a := range rep.Anomalies {
		idx = append(idx, a.Index)
	}
	if !slices.Equal(rep.IllegalKeys, []string{"b", "d"}) || !slices.Equal(idx, []int{2, 5}) {
		t.Errorf("all keys: %+v", rep)
	}
}

func TestCancelledIsUnknown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := checker.Linearizable(ctx, handDrawn[0].ops, checker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != checker.Unknown || !slices.Equal(rep.UnknownKeys, []string{"x"}) || rep.Stopped != "cancelled" {
		t.Errorf("cancelled check: %+v", rep)
	}
}

// A history porcupine cannot decide quickly: one key with about 90
// operations in flight at a time. The budget, by time or by memory, turns
// it into Unknown instead of a hang.
func TestBudget(t *testing.T) {
	ops := generate(3, 20000, 1, 200, 900)
	for _, tc := range []struct {
		opts    checker.Options
		stopped string
	}{
		{checker.Options{Timeout: 200 * time.Millisecond}, "timeout"},
		{checker.Options{MaxHeap: 1}, "memory limit"},
	} {
		start := time.Now()
		rep, err := checker.Linearizable(context.Background(), ops, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict != checker.Unknown || rep.Stopped != tc.stopped || !slices.Equal(rep.UnknownKeys, []string{"k0"}) {
			t.Errorf("%+v: verdict %s, stopped %q, unknown keys %v", tc.opts, rep.Verdict, rep.Stopped, rep.UnknownKeys)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%+v: took %v", tc.opts, d)
		}
	}
}

func TestInvalidOperation(t *testing.T) {
	ops := []history.Operation{{Client: "c1", Kind: "cas", Key: "x"}}
	if _, err := checker.Linearizable(context.Background(), ops, checker.Options{}); err == nil || !strings.Contains(err.Error(), "operation 0") {
		t.Errorf("err = %v", err)
	}
}

func TestVisualize(t *testing.T) {
	dir := t.TempDir()
	ops := handDrawn[len(handDrawn)-1].ops // keys x (legal) and y (illegal)
	path := filepath.Join(dir, "v.html")
	rep, err := checker.Linearizable(context.Background(), ops, checker.Options{Visualize: path})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Visualized, []string{"y"}) {
		t.Errorf("visualized %v, want only the illegal key", rep.Visualized)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "put(y, \\\"2\\\")") || !strings.Contains(string(b), "anomalies") {
		t.Errorf("visualisation lacks the operations or the anomaly row (%d bytes)", len(b))
	}
	// The cap: nothing fits in one operation, so nothing is drawn.
	rep, err = checker.Linearizable(context.Background(), ops, checker.Options{Visualize: filepath.Join(dir, "w.html"), VisualizeMaxOps: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Visualized) != 0 {
		t.Errorf("visualized %v past the cap", rep.Visualized)
	}
}

// randomHistory draws a small, often illegal, history: values from a tiny
// set and random overlapping intervals.
func randomHistory(rng *rand.Rand) []history.Operation {
	var ops []history.Operation
	for i := range 4 + rng.IntN(10) {
		k := []string{"x", "y"}[rng.IntN(2)]
		c := fmt.Sprintf("c%d", i)
		call := int64(rng.IntN(100))
		ret := call + int64(rng.IntN(30))
		v := fmt.Sprint(rng.IntN(3))
		var o history.Operation
		switch rng.IntN(6) {
		case 0, 1:
			o = put(c, k, v, call, ret)
		case 2:
			o = del(c, k, call, ret)
		case 3:
			o = getNil(c, k, call, ret)
		default:
			o = get(c, k, v, call, ret)
		}
		if rng.IntN(8) == 0 {
			o = failed(o)
		}
		ops = append(ops, o)
	}
	return ops
}

// Against porcupine's own partitioned check, and the defining property of
// the anomalies: without them the history is linearizable, and each one
// put back alone makes it illegal again.
func TestRandomAgainstPorcupine(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	illegal := 0
	for n := range 500 {
		ops := randomHistory(rng)
		rep, err := checker.Linearizable(context.Background(), ops, checker.Options{AllKeys: true})
		if err != nil {
			t.Fatal(err)
		}
		ok := porcupine.CheckOperations(checker.KVModel(), checker.KVOperations(ops))
		if ok != (rep.Verdict == checker.Ok) {
			t.Fatalf("history %d: verdict %s, porcupine linearizable=%v\n%v", n, rep.Verdict, ok, ops)
		}
		if ok {
			continue
		}
		illegal++
		if len(rep.Anomalies) == 0 {
			t.Fatalf("history %d: illegal without anomalies\n%v", n, ops)
		}
		bad := make(map[int]bool)
		for _, a := range rep.Anomalies {
			bad[a.Index] = true
		}
		var rest []history.Operation
		for i, o := range ops {
			if !bad[i] {
				rest = append(rest, o)
			}
		}
		if !porcupine.CheckOperations(checker.KVModel(), checker.KVOperations(rest)) {
			t.Fatalf("history %d: still illegal without the anomalies %v\n%v", n, rep.Anomalies, ops)
		}
		for _, a := range rep.Anomalies {
			if porcupine.CheckOperations(checker.KVModel(), checker.KVOperations(append(slices.Clone(rest), a.Op))) {
				t.Fatalf("history %d: anomaly %v is legal with the kept operations\n%v", n, a, ops)
			}
		}
	}
	if illegal < 50 {
		t.Errorf("only %d of 500 random histories illegal: the test is too weak", illegal)
	}
}

// generate returns a linearizable history of n operations over keys keys:
// operation i takes effect at time 10*i on a real map, and its interval
// stretches up to spread before and after. Clients have one operation
// outstanding at a time as long as spread < 5*clients.
func generate(seed uint64, n, keys, clients int, spread int64) []history.Operation {
	rng := rand.New(rand.NewPCG(seed, 0))
	state := make(map[string]string)
	ops := make([]history.Operation, n)
	for i := range ops {
		at := int64(i) * 10
		k := fmt.Sprintf("k%d", rng.IntN(keys))
		c := fmt.Sprintf("c%d", i%clients)
		call, ret := at-rng.Int64N(spread+1), at+rng.Int64N(spread+1)
		switch r := rng.IntN(10); {
		case r < 5:
			v := fmt.Sprintf("v%d", i)
			state[k] = v
			ops[i] = put(c, k, v, call, ret)
		case r < 6:
			delete(state, k)
			ops[i] = del(c, k, call, ret)
		default:
			if v, ok := state[k]; ok {
				ops[i] = get(c, k, v, call, ret)
			} else {
				ops[i] = getNil(c, k, call, ret)
			}
		}
	}
	return ops
}

// A large legal history stays legal; corrupting one read is caught and that
// read alone is named.
func TestGeneratedHistory(t *testing.T) {
	ops := generate(7, 20000, 100, 100, 400)
	rep, err := checker.Linearizable(context.Background(), ops, checker.Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != checker.Ok {
		t.Fatalf("generated history: %s", rep)
	}
	// Make a late read return the value its key had long before.
	var bad int
	for i := len(ops) - 1; i >= 0; i-- {
		if ops[i].Kind != history.Get {
			continue
		}
		for j := 0; j < i-200; j++ {
			if ops[j].Kind == history.Put && ops[j].Key == ops[i].Key && string(ops[j].Input) != string(ops[i].Output) {
				ops[i].Output, ops[i].Found, bad = ops[j].Input, true, i
				break
			}
		}
		if bad != 0 {
			break
		}
	}
	rep, err = checker.Linearizable(context.Background(), ops, checker.Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != checker.Illegal || len(rep.Anomalies) != 1 || rep.Anomalies[0].Index != bad {
		t.Fatalf("corrupted read #%d: %s", bad, rep)
	}
	if !strings.Contains(rep.Anomalies[0].Reason, "stale") {
		t.Errorf("reason: %s", rep.Anomalies[0].Reason)
	}
}

// BenchmarkLinearizable checks a generated legal history of 100,000
// operations with 200 clients, over 1000 keys (100 operations per key) and
// over 100 keys (1000 per key, about one in flight on a key at a time).
// Porcupine's search is exponential in the operations in flight on one key:
// the same history over 10 keys (about 9 in flight) does not finish in a
// minute, while with intervals a ninth as long it takes about a second.
func BenchmarkLinearizable(b *testing.B) {
	for _, keys := range []int{1000, 100} {
		ops := generate(1, 100000, keys, 200, 900)
		b.Run(fmt.Sprintf("ops=100k/keys=%d", keys), func(b *testing.B) {
			for b.Loop() {
				rep, err := checker.Linearizable(context.Background(), ops, checker.Options{Timeout: time.Minute})
				if err != nil {
					b.Fatal(err)
				}
				if rep.Verdict != checker.Ok {
					b.Fatalf("verdict %s", rep.Verdict)
				}
			}
		})
	}
}
