package epaxos

import (
	"cmp"
	"slices"

	"github.com/ailidani/paxi-style/paxi"
)

// execute runs one executor pass (PROTOCOLS.md §3.5): every committed,
// unexecuted instance, in row then instance order, is the root of a Tarjan
// search of the dependency graph; strongly connected components are
// executed as the search completes them, dependencies first, each in
// (seq, replica, instance) order (§3.7 F5).
//
// The graph: instance γ depends on every instance in the prefixes its deps
// name (q.0 .. q.deps[q]). Each of those must be committed before γ can
// run, since until then its command is unknown; among committed ones only
// those whose commands conflict with γ's are edges. Every replica thus sees
// the same graph for γ, determined by committed attributes alone.
//
// The search never waits (§3.7 F6): when it meets an instance that is not
// committed it marks that instance needed (the tick recovers it after a
// timeout if nothing commits it first), abandons this root and every
// instance on its search stack for this pass, and goes on with the next
// root.
func (e *EPaxos) execute() {
	e.pass++
	for q := range e.n {
		for j := e.executedTo[q] + 1; j <= e.maxCommitted[q]; j++ {
			inst := e.at(q, j)
			if inst == nil || inst.status != Committed || inst.executed || inst.tBlocked == e.pass || inst.tPass == e.pass {
				continue
			}
			var stack []*instance
			index := 0
			if !e.strongConnect(inst, &stack, &index) {
				for _, s := range stack {
					s.tOnStack = false
					s.tBlocked = e.pass
				}
			}
		}
	}
}

// strongConnect is Tarjan's algorithm from v. It returns false if the
// search met an instance that blocks it.
func (e *EPaxos) strongConnect(v *instance, stack *[]*instance, index *int) bool {
	v.tPass, v.tIndex, v.tLow = e.pass, *index, *index
	*index++
	*stack = append(*stack, v)
	v.tOnStack = true
	for q, hi := range v.deps {
		lo := e.executedTo[q] + 1
		if hi < lo {
			continue
		}
		if e.committedTo[q] < hi {
			// Some instance in the prefix is not committed here: the
			// first one after the committed prefix.
			e.markNeeded(q, e.committedTo[q]+1)
			return false
		}
		for j := lo; j <= hi; j++ {
			w := e.rows[q][j]
			if w == v || w.executed || !conflicts(v, w) {
				continue
			}
			switch {
			case w.tBlocked == e.pass:
				return false
			case w.tPass != e.pass:
				if !e.strongConnect(w, stack, index) {
					return false
				}
				v.tLow = min(v.tLow, w.tLow)
			case w.tOnStack:
				v.tLow = min(v.tLow, w.tIndex)
			}
		}
	}
	if v.tLow != v.tIndex {
		return true
	}
	// v is the root of a strongly connected component: pop it and execute.
	s := *stack
	i := len(s) - 1
	for s[i] != v {
		i--
	}
	scc := slices.Clone(s[i:])
	for _, w := range scc {
		w.tOnStack = false
	}
	*stack = s[:i]
	slices.SortFunc(scc, func(a, b *instance) int {
		return cmp.Or(cmp.Compare(a.seq, b.seq), cmp.Compare(a.row, b.row), cmp.Compare(a.num, b.num))
	})
	for _, w := range scc {
		e.apply(w)
	}
	return true
}

// markNeeded notes that the executor waits for instance num of row q.
func (e *EPaxos) markNeeded(q int, num int64) {
	inst := e.get(q, num)
	if inst.status == Committed || inst.needed {
		return
	}
	inst.needed = true
	if !inst.tracked {
		e.touch(inst)
	}
}

// apply executes a committed instance: its commands in order, answering
// the clients that wait here.
func (e *EPaxos) apply(inst *instance) {
	for _, c := range inst.cmds {
		if c.Op == paxi.Noop {
			continue
		}
		res := e.env.Store().Apply(c)
		k := cmdKey{c.ClientID, c.CommandID}
		if reqs, ok := e.waiting[k]; ok {
			for _, r := range reqs {
				e.env.Reply(r, paxi.NewReply(r, res, inst.num, inst.vbal))
			}
			delete(e.waiting, k)
		}
	}
	inst.executed = true
	e.execCount++
	inst.execOrder = e.execCount
	r := inst.row
	for {
		next := e.at(r, e.executedTo[r]+1)
		if next == nil || !next.executed {
			break
		}
		e.executedTo[r]++
	}
}
