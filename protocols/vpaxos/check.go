package vpaxos

import (
	"fmt"

	"github.com/ailidani/paxi-style/paxi"
)

// Check verifies, after a simulated run, the agreement of Vertical Paxos
// logs: no two nodes hold one object's slot committed with different
// commands. (The generic checks compare the stores; this one compares the
// logs, no-ops included, slot by slot.)
func Check(replicas map[paxi.ID]paxi.Replica) error {
	type seen struct {
		cmd paxi.Command
		at  paxi.ID
	}
	committed := map[string]map[int64]seen{}
	for _, id := range paxi.SortIDs(keysOf(replicas)) {
		r, ok := replicas[id].(*VPaxos)
		if !ok {
			continue // crashed at the end, or not a vpaxos replica
		}
		for _, k := range r.keys {
			o := r.objects[k]
			if committed[k] == nil {
				committed[k] = map[int64]seen{}
			}
			for s, e := range o.log {
				if e == nil || !e.committed {
					continue
				}
				if prev, ok := committed[k][int64(s)]; ok && !sameCommand(prev.cmd, e.cmd) {
					return fmt.Errorf("object %q slot %d committed as %v at %v and as %v at %v", k, s, prev.cmd, prev.at, e.cmd, id)
				} else if !ok {
					committed[k][int64(s)] = seen{e.cmd, id}
				}
			}
		}
	}
	return nil
}

func keysOf(m map[paxi.ID]paxi.Replica) []paxi.ID {
	out := make([]paxi.ID, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	return out
}
