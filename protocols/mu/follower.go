package mu

import (
	"fmt"

	"github.com/ailidani/paxi-style/paxi"
)

// The follower side: the replayer that turns the log the leader writes
// into applied commands, state transfer, and client requests.

// apply executes a decided slot: the store, the reply to a client waiting
// here, the applied index in the log header for leaders to read.
func (r *Replica) apply(s slot) {
	if s.index != r.applied {
		panic(fmt.Sprintf("mu: %v: apply of index %d while the next to apply is %d", r.me, s.index, r.applied))
	}
	res := r.env.Store().Apply(s.cmd)
	k := cmdKey{s.cmd.ClientID, s.cmd.CommandID}
	if w := r.waiting[k]; w != nil {
		for _, req := range w.reqs {
			r.env.Reply(req, paxi.NewReply(req, res, int64(s.index), s.proposal))
		}
		delete(r.waiting, k)
	}
	r.applied++
	r.commit = max(r.commit, r.applied)
	r.next = max(r.next, r.applied)
	r.log.Store64(offApplied, r.applied)
}

// resetReplayer forgets consumed slots: a new writer may rewrite them.
func (r *Replica) resetReplayer() {
	r.pending = nil
	r.next = r.applied
}

// replay is the follower's replayer, run when the log changes: recheck
// the consumed slots, consume the complete ones that follow, apply those
// known decided. A leader's replayer is paused (PROTOCOLS.md §9.9 item 4).
func (r *Replica) replay() {
	if r.lead == nil {
		r.replayFrom(false)
	}
}

// replayFrom runs the replayer; own says the caller leads and applies
// only what the commit index in its own log vouches for.
func (r *Replica) replayFrom(own bool) {
	b := make([]byte, r.o.SlotSize)
	for i, s := range r.pending {
		off := r.slotOff(s.index)
		if r.log.Load64(off) != s.index || paxi.Ballot(r.log.Load64(off+8)) != s.proposal {
			r.pending, r.next = r.pending[:i], s.index // rewritten since: consume again
			break
		}
	}
	for r.next-r.applied < uint64(r.o.Slots) {
		r.log.Read(r.slotOff(r.next), b)
		s, st := readSlot(b, r.next, r.o.TrustPlacement)
		if st != slotValid {
			break
		}
		r.pending = append(r.pending, s)
		if !own {
			r.commit = max(r.commit, s.fuo)
		}
		r.next++
	}
	r.commit = max(r.commit, r.log.Load64(offCommit))
	for len(r.pending) > 0 && r.pending[0].index < r.commit {
		s := r.pending[0]
		r.pending = r.pending[1:]
		r.apply(s)
	}
	if own {
		r.resetReplayer()
	}
}

// handleSnapshot installs a state machine that is ahead of this node.
func (r *Replica) handleSnapshot(m Snapshot) {
	if m.Index <= r.applied {
		return
	}
	if err := r.env.Store().Restore(m.Store); err != nil {
		panic(fmt.Sprintf("mu: %v: restore snapshot at %d: %v", r.me, m.Index, err))
	}
	r.stats.Snapshots++
	r.applied, r.next, r.pending = m.Index, m.Index, nil
	r.commit = max(r.commit, m.Index)
	r.log.Store64(offApplied, r.applied)
	if l := r.lead; l != nil && l.phase == snapWait {
		l.phase = idle
		l.maybeStart(r)
	}
}

// handleRequest takes a client request: the node that received it keeps
// it until it executes the command, and the leader replicates it.
func (r *Replica) handleRequest(from paxi.ID, req paxi.Request) {
	if req.Node == r.me {
		k := cmdKey{req.Command.ClientID, req.Command.CommandID}
		w := r.waiting[k]
		if w == nil {
			w = &waiting{}
			r.waiting[k] = w
		}
		w.reqs = append(w.reqs, req)
		w.sent = r.env.Now()
	}
	switch {
	case r.lead != nil:
		r.lead.enqueue(r, req)
	case from == r.me && r.view != r.me:
		r.env.Send(r.view, req)
	}
}

// resendWaiting hands every request received here and not executed to
// the leader of the moment.
func (r *Replica) resendWaiting() {
	for _, k := range sortedKeys(r.waiting) {
		w := r.waiting[k]
		w.sent = r.env.Now()
		r.forward(w.reqs[len(w.reqs)-1])
	}
}

func (r *Replica) forward(req paxi.Request) {
	switch {
	case r.lead != nil:
		r.lead.enqueue(r, req)
	case r.view != r.me:
		r.env.Send(r.view, req)
	}
}

// retryRequests sends again the requests received here and not executed
// within Retry: to the leader of the moment.
func (r *Replica) retryRequests() {
	now := r.env.Now()
	for _, p := range sortedKeys(r.waiting) {
		w := r.waiting[p]
		if now.Sub(w.sent) < r.o.Retry {
			continue
		}
		w.sent = now
		r.forward(w.reqs[len(w.reqs)-1])
	}
}
