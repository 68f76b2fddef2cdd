package checker

import (
	"fmt"
	"math"
	"sort"

	"github.com/anishathalye/porcupine"

	"github.com/ailidani/paxi-style/history"
)

// The real-time scan finds, without porcupine, the reads of a key that the
// writes alone rule out, in O((reads + writes) log writes). Porcupine pays
// for an illegal history by exhausting every order of the operations before
// the violation, which on a key with thousands of operations takes seconds
// and gigabytes; the common violations (stale reads, values nobody wrote)
// need none of that. The scan is sound: a read it flags has no
// linearization together with the key's writes, hence none with any larger
// set of operations. It is not complete (porcupine decides the rest).
//
// A read r returning result e (a value, or nil) is ruled out when
//
//   - e is a value no put wrote; or
//   - every write with effect e was called after r returned (a read from
//     the future); or
//   - r is stale: let s be the write with effect e (or, for nil, the initial
//     state) that r could follow (s.Call <= r.Return) with the latest
//     return; some write w with another effect was called after s returned
//     and returned before r was called. Then w comes after every such s and
//     before r in any linearization, so the last write before r never has
//     effect e.

// effect names what a write leaves in the key: "p"+value for a put, "d"
// for a delete (and the initial state, also absent).
func effect(in kvInput) string {
	if in.kind == kvPut {
		return "p" + in.value
	}
	return "d"
}

// readEffect is the effect a read saw.
func readEffect(out kvOutput) string {
	if out.found {
		return "p" + out.value
	}
	return "d"
}

// written is one write as the scan sees it; op is nil for the initial state.
type written struct {
	call, ret int64
	eff       string
	op        *porcupine.Operation
}

// scanner indexes the writes of one key.
type scanner struct {
	// byEffect lists the writes of each effect by call time, with the
	// running maximum of their returns (latest[i] is the write with the
	// latest return among the first i+1).
	byEffect map[string][]written
	latest   map[string][]int
	// writes sorted by call time, with, for each suffix, the write with
	// the earliest return (first) and the one with the earliest return
	// among those of another effect than first (second).
	calls         []int64
	first, second []*written
}

func newScanner(writes []porcupine.Operation) *scanner {
	sc := &scanner{byEffect: make(map[string][]written), latest: make(map[string][]int)}
	all := make([]written, 0, len(writes))
	sc.byEffect["d"] = []written{{call: math.MinInt64, ret: math.MinInt64, eff: "d"}} // the initial state
	for i := range writes {
		w := written{call: writes[i].Call, ret: writes[i].Return, eff: effect(writes[i].Input.(kvInput)), op: &writes[i]}
		all = append(all, w)
		sc.byEffect[w.eff] = append(sc.byEffect[w.eff], w)
	}
	for e, ws := range sc.byEffect {
		sort.SliceStable(ws, func(i, j int) bool { return ws[i].call < ws[j].call })
		lat := make([]int, len(ws))
		for i := range ws {
			lat[i] = i
			if i > 0 && ws[lat[i-1]].ret >= ws[i].ret {
				lat[i] = lat[i-1]
			}
		}
		sc.latest[e] = lat
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].call < all[j].call })
	n := len(all)
	sc.calls = make([]int64, n)
	sc.first = make([]*written, n+1)
	sc.second = make([]*written, n+1)
	for i := n - 1; i >= 0; i-- {
		w := &all[i]
		sc.calls[i] = w.call
		f, s := sc.first[i+1], sc.second[i+1]
		switch {
		case f == nil || (w.eff == f.eff && w.ret < f.ret):
			f = w
		case w.eff == f.eff:
		case w.ret < f.ret:
			f, s = w, f
		case s == nil || w.ret < s.ret:
			s = w
		}
		sc.first[i], sc.second[i] = f, s
	}
	return sc
}

// overwrite returns the write with the earliest return among those called
// after t with an effect other than eff, or nil.
func (sc *scanner) overwrite(t int64, eff string) *written {
	i := sort.Search(len(sc.calls), func(i int) bool { return sc.calls[i] > t })
	if f := sc.first[i]; f != nil && f.eff != eff {
		return f
	}
	return sc.second[i]
}

// verdict is the scan's judgement of one read: ruled out or not, and why.
type verdict struct {
	ruledOut bool
	reason   string
	related  []int
}

// judge applies the rules above to read r.
func (sc *scanner) judge(r porcupine.Operation, ops []history.Operation) verdict {
	out := r.Output.(kvOutput)
	in := r.Input.(kvInput)
	eff := readEffect(out)
	result := "nil"
	if out.found {
		result = quoteShort(out.value)
	}
	ws := sc.byEffect[eff]
	if len(ws) == 0 {
		return verdict{true, fmt.Sprintf("returned %s, which no put of key %q wrote", result, in.key), nil}
	}
	// The writes of effect eff that r could follow are the first n.
	n := sort.Search(len(ws), func(i int) bool { return ws[i].call > r.Return })
	if n == 0 {
		return verdict{true, fmt.Sprintf("returned %s before any put of it was called", result), indices(ws)}
	}
	// A failed s returns at +infinity: nothing is called after it, so it
	// may always be the last write before r.
	s := ws[sc.latest[eff][n-1]]
	w := sc.overwrite(s.ret, eff)
	if w == nil || w.ret >= r.Call {
		return verdict{}
	}
	what := "the initial state"
	rel := []int{w.op.Metadata.(kvMeta).index}
	if s.op != nil {
		what = describe(*s.op, ops)
		rel = append(rel, s.op.Metadata.(kvMeta).index)
	}
	return verdict{true, fmt.Sprintf("stale: returned %s, but %s overwrote %s and returned before the read was called", result, describe(*w.op, ops), what), rel}
}

func indices(ws []written) []int {
	var out []int
	for _, w := range ws {
		if w.op != nil {
			out = append(out, w.op.Metadata.(kvMeta).index)
		}
	}
	return out
}
