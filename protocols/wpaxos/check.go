package wpaxos

import (
	"fmt"
	"slices"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/paxos"
)

// Check verifies after a simulated run what the WPaxos TLA+ model states as
// its safety invariant: no slot of an object's log is committed with two
// different values on two nodes. (The generic checkers compare the stores;
// this compares the logs, no-ops included, slot by slot.)
func Check(replicas map[paxi.ID]paxi.Replica) error {
	type first struct {
		at   paxi.ID
		cmds []paxi.Command
	}
	seen := map[string]map[int64]first{}
	ids := make([]paxi.ID, 0, len(replicas))
	for id := range replicas {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		w, ok := replicas[id].(*WPaxos)
		if !ok {
			if replicas[id] == nil {
				continue // crashed at the end
			}
			return fmt.Errorf("wpaxos check: node %v runs %T", id, replicas[id])
		}
		objs := w.instances()
		for _, key := range sortedKeys(objs) {
			p := objs[key]
			if seen[key] == nil {
				seen[key] = map[int64]first{}
			}
			for s := int64(0); s <= p.Slot(); s++ {
				cmds, ok := p.Committed(s)
				if !ok {
					continue
				}
				f, ok := seen[key][s]
				if !ok {
					seen[key][s] = first{id, cmds}
					continue
				}
				if !sameCommands(f.cmds, cmds) {
					return fmt.Errorf("wpaxos check: object %q slot %d committed as %s at %v but %s at %v",
						key, s, paxi.CommandsString(f.cmds), f.at, paxi.CommandsString(cmds), id)
				}
			}
		}
	}
	return nil
}

func sameCommands(a, b []paxi.Command) bool {
	return slices.EqualFunc(a, b, func(x, y paxi.Command) bool { return x.Op == y.Op && x.Same(y) })
}

// instances returns the object instances of a node, for Check.
func (w *WPaxos) instances() map[string]*paxos.Paxos {
	out := make(map[string]*paxos.Paxos, len(w.objects))
	for k, in := range w.objects {
		out[k] = in.p
	}
	return out
}
