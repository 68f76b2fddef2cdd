package paxos

import (
	"cmp"
	"slices"
	"strings"

	"github.com/ailidani/paxi-style/paxi"
)

// Hooks for protocols built out of Multi-Paxos instances rather than a copy
// of it. WPaxos runs one instance per object and decides itself when an
// instance campaigns: when the object is accessed, when the migration policy
// hands it over, or when a request waits too long (Options.Passive turns the
// instance's own elections off). Its checks read the instances' logs.

// Campaign starts phase 1 now, with a ballot above any this replica has
// seen, unless it already leads or is campaigning. Requests this node
// received and handed to another leader are queued to be proposed if the
// phase succeeds, since that leader may be gone; if the phase fails they go
// to the winner, as on any step-down. A command proposed twice this way is
// executed once (the store deduplicates writes; a read is harmless). It
// reports whether phase 1 started.
func (p *Paxos) Campaign() bool {
	if p.ballot.ID() == p.id {
		return false
	}
	keys := make([]cmdKey, 0, len(p.waiting))
	for k := range p.waiting {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b cmdKey) int {
		if a.client != b.client {
			return strings.Compare(a.client, b.client)
		}
		return cmp.Compare(a.id, b.id)
	})
	now := p.env.Now()
	for _, k := range keys {
		w := p.waiting[k]
		w.sent = now
		p.pending = append(p.pending, w.reqs[len(w.reqs)-1])
	}
	p.startPhase1()
	return true
}

// Slot returns the highest slot this replica knows of (-1: none).
func (p *Paxos) Slot() int64 { return p.slot }

// Committed returns the commands committed in slot s, if this replica knows
// the slot is committed. The slice belongs to the replica: do not modify it.
func (p *Paxos) Committed(s int64) ([]paxi.Command, bool) {
	e := p.log.at(s)
	if e == nil || !e.committed {
		return nil, false
	}
	return e.cmds, true
}
