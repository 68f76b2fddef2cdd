package checker

import (
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strconv"

	"github.com/anishathalye/porcupine"

	"github.com/ailidani/paxi-style/history"
)

// kvKind is the kind of a key-value operation inside the model. It is a small
// integer rather than the history's string so that inputs stay cheap to copy.
type kvKind uint8

const (
	kvGet kvKind = iota
	kvPut
	kvDelete
)

// kvInput is the input of one operation: what was asked of which key.
type kvInput struct {
	kind  kvKind
	key   string
	value string // the value a put writes
}

// kvOutput is what a get returned. Writes carry only failed, which says that
// the client never learnt the write's outcome (for descriptions only).
type kvOutput struct {
	value  string
	found  bool
	failed bool
}

// kvState is the state of one key: its value, or none. It is a comparable
// value, so porcupine's default == is the right equality.
type kvState struct {
	value string
	found bool
}

// kvMeta ties a porcupine operation back to the history operation it came
// from, for anomaly reports and the visualisation.
type kvMeta struct {
	index  int
	client string
	node   string
}

func kvStep(state, input, output any) (bool, any) {
	st := state.(kvState)
	in := input.(kvInput)
	switch in.kind {
	case kvPut:
		return true, kvState{value: in.value, found: true}
	case kvDelete:
		return true, kvState{}
	default:
		out := output.(kvOutput)
		return out.found == st.found && out.value == st.value, st
	}
}

func kvHash(state any) uint64 {
	st := state.(kvState)
	h := fnv.New64a()
	if st.found {
		h.Write([]byte{1})
	}
	h.Write([]byte(st.value))
	return h.Sum64()
}

// quoteShort quotes a value for a description, cutting long values so that a
// visualisation of 1 KB values stays readable.
func quoteShort(v string) string {
	const max = 24
	if len(v) > max {
		return strconv.Quote(v[:max]) + "…"
	}
	return strconv.Quote(v)
}

func kvDescribeOperation(input, output any) string {
	in := input.(kvInput)
	out := output.(kvOutput)
	var s string
	switch in.kind {
	case kvPut:
		s = fmt.Sprintf("put(%s, %s)", in.key, quoteShort(in.value))
	case kvDelete:
		s = fmt.Sprintf("delete(%s)", in.key)
	default:
		if out.found {
			s = fmt.Sprintf("get(%s) -> %s", in.key, quoteShort(out.value))
		} else {
			s = fmt.Sprintf("get(%s) -> nil", in.key)
		}
	}
	if out.failed {
		s += " (failed: may have happened)"
	}
	return s
}

func kvDescribeState(state any) string {
	st := state.(kvState)
	if !st.found {
		return "nil"
	}
	return quoteShort(st.value)
}

func kvDescribeMetadata(meta any) string {
	m, ok := meta.(kvMeta)
	if !ok {
		return ""
	}
	s := fmt.Sprintf("op #%d by %s", m.index, m.client)
	if m.node != "" {
		s += " at node " + m.node
	}
	return s
}

// kvPartition splits a history by key. Keys are sorted so that partitions,
// and everything reported per partition, come out in the same order on
// every run.
func kvPartition(ops []porcupine.Operation) [][]porcupine.Operation {
	byKey := make(map[string][]porcupine.Operation)
	for _, op := range ops {
		k := op.Input.(kvInput).key
		byKey[k] = append(byKey[k], op)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([][]porcupine.Operation, len(keys))
	for i, k := range keys {
		parts[i] = byKey[k]
	}
	return parts
}

// kvModelStop is the per-key model used by the checker itself: no
// partitioning (the checker partitions, to know which key is illegal), and a
// Step that refuses every step once stop says so. Porcupine's only way to
// stop a check is its own timeout; refusing steps makes the search collapse
// quickly, and the caller then discards the verdict as Unknown.
func kvModelStop(stop func() bool) porcupine.Model {
	m := KVModel()
	m.Partition = nil
	m.Step = func(state, input, output any) (bool, any) {
		if stop() {
			return false, state
		}
		return kvStep(state, input, output)
	}
	return m
}

// KVModel returns the sequential specification of the key-value store as a
// porcupine model: a get returns the key's current value or not-found, a put
// sets it, a delete removes it, and every key starts absent. It partitions
// by key (keys sorted), which is what makes checking large histories cheap.
// Linearizable uses it; it is exported so that tests can run porcupine
// directly on KVOperations as a differential oracle, or visualise a history.
func KVModel() porcupine.Model {
	return porcupine.Model{
		Partition:                 kvPartition,
		Init:                      func() any { return kvState{} },
		Step:                      kvStep,
		Hash:                      kvHash,
		DescribeOperation:         kvDescribeOperation,
		DescribeState:             kvDescribeState,
		DescribeOperationMetadata: kvDescribeMetadata,
	}
}

// KVOperations converts a client history to porcupine operations for
// KVModel, applying the rules for failed operations: a failed read tells
// nothing and is dropped, and a failed write may have taken effect at any
// time after its call, so it returns at +infinity (math.MaxInt64). Each
// operation's Metadata holds its index in ops. Clients are numbered in
// sorted order of their names, as porcupine's visualisation wants small
// integers.
//
// A failed put whose value no successful read of its key returned is
// dropped too. That is exact, not a heuristic: if the history with it is
// linearizable, removing it from the linearization changes no read (none
// returned its value, and every read after it returned a value written
// after it), and if the history without it is linearizable, the put can be
// placed at the very end. It matters for speed: each failed write is an
// operation porcupine may place anywhere after its call, and a few dozen of
// them on one hot key (a simulation with crashes) can make the search run
// out of time.
func KVOperations(ops []history.Operation) []porcupine.Operation {
	observed := make(map[string]map[string]bool)
	for _, o := range ops {
		if o.Kind == history.Get && o.Error == "" && o.Found {
			if observed[o.Key] == nil {
				observed[o.Key] = make(map[string]bool)
			}
			observed[o.Key][string(o.Output)] = true
		}
	}
	clients := make(map[string]int)
	for _, o := range ops {
		clients[o.Client] = 0
	}
	names := make([]string, 0, len(clients))
	for c := range clients {
		names = append(names, c)
	}
	sort.Strings(names)
	for i, c := range names {
		clients[c] = i
	}
	out := make([]porcupine.Operation, 0, len(ops))
	for i, o := range ops {
		if o.Kind == history.Put && o.Error != "" && !observed[o.Key][string(o.Input)] {
			continue // a failed write nobody saw: see above
		}
		p, ok := kvOperation(o)
		if !ok {
			continue
		}
		p.ClientId = clients[o.Client]
		p.Metadata = kvMeta{index: i, client: o.Client, node: o.Node}
		out = append(out, p)
	}
	return out
}

// kvOperation converts one operation; ok is false for a dropped one (a
// failed read, or an unknown kind, which Validate rejects beforehand).
func kvOperation(o history.Operation) (p porcupine.Operation, ok bool) {
	failed := o.Error != ""
	var in kvInput
	var out kvOutput
	switch o.Kind {
	case history.Get:
		if failed {
			return p, false
		}
		in = kvInput{kind: kvGet, key: o.Key}
		if o.Found {
			out = kvOutput{value: string(o.Output), found: true}
		}
	case history.Put:
		in = kvInput{kind: kvPut, key: o.Key, value: string(o.Input)}
	case history.Delete:
		in = kvInput{kind: kvDelete, key: o.Key}
	default:
		return p, false
	}
	ret := o.Return
	if failed {
		ret = math.MaxInt64
		out.failed = true
	}
	return porcupine.Operation{Input: in, Output: out, Call: o.Call, Return: ret}, true
}
