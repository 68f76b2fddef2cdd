package epaxos

import (
	"fmt"
	"slices"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/quorum"
)

// handlePreAccept is an acceptor's phase 1 (PROTOCOLS.md §3.4 step 2). The
// instance is the message's (Replica, Instance), whoever sends it (§3.7 F3:
// a recoverer is not the row's owner).
func (e *EPaxos) handlePreAccept(from paxi.ID, m PreAccept) {
	r, ok := e.resolve("PreAccept", from, m.Replica, m.Instance)
	if !ok || !e.validValue("PreAccept", from, r, m.Instance, m.Cmds, m.Deps) || !e.validBallot("PreAccept", from, r, m.Ballot) {
		return
	}
	inst := e.get(r, m.Instance)
	switch {
	case inst.status == Committed:
		e.env.Send(from, e.commitMsg(inst))
		return
	case m.Ballot < inst.bal:
		e.env.Send(from, Nack{Ballot: inst.bal, Replica: m.Replica, Instance: m.Instance})
		return
	case m.Ballot == inst.vbal && inst.status >= PreAccepted:
		// A duplicate. Answer with what was pre-accepted then, never with
		// attributes recomputed now: a fast-path commit, and the recovery
		// that must find it, count on this replica's answer at this
		// ballot being one and the same.
		if inst.status == PreAccepted {
			e.env.Send(from, PreAcceptOK{Ballot: m.Ballot, Replica: m.Replica, Instance: m.Instance, Seq: inst.seq, Deps: inst.deps})
		}
		return
	}
	e.raise(inst, m.Ballot)
	a := attrs{m.Seq, m.Deps}.union(e.localAttrs(inst.row, inst.num, m.Cmds))
	inst.status, inst.cmds, inst.seq, inst.deps, inst.vbal = PreAccepted, m.Cmds, a.seq, a.deps, m.Ballot
	inst.original = m.Ballot == e.initial(inst.row) && a.equal(attrs{m.Seq, m.Deps})
	e.learn(inst)
	e.touch(inst)
	e.env.Send(from, PreAcceptOK{Ballot: m.Ballot, Replica: m.Replica, Instance: m.Instance, Seq: a.seq, Deps: a.deps})
}

// handlePreAcceptOK is the leader counting phase-1 answers (§3.4 step 3).
func (e *EPaxos) handlePreAcceptOK(from paxi.ID, m PreAcceptOK) {
	inst := e.lookup("PreAcceptOK", from, m.Replica, m.Instance)
	if inst == nil {
		return
	}
	l := inst.lead
	if l == nil || l.phase != phasePreAccept || l.ballot != m.Ballot {
		return // stale
	}
	if !e.validDeps(inst.row, inst.num, m.Deps) {
		e.env.Logger().Warn("PreAcceptOK with malformed dependencies ignored", "from", from, "instance", inst.id(e.peers).String())
		return
	}
	if !l.votes.Ack(from) {
		return // duplicate
	}
	a := attrs{m.Seq, m.Deps}
	if a.equal(l.orig) {
		l.same.Ack(from)
	} else {
		l.merged = l.merged.union(a)
	}
	e.checkPreAccept(inst)
}

// checkPreAccept decides phase 1 of an instance this replica drives.
//
// Fast path: a fast quorum (N-1 replicas, this one included) pre-accepted
// exactly the attributes this leader proposed, at the initial ballot, and no
// higher ballot was promised here since: commit them. Requiring the leader's
// own attributes, not merely identical replies, is what lets recovery tell
// which attributes a fast path may have committed (see doc.go).
//
// Slow path: a majority answered and the fast path cannot or did not happen
// in time: run Accept with the union of the answers.
func (e *EPaxos) checkPreAccept(inst *instance) {
	l := inst.lead
	if l == nil || l.phase != phasePreAccept {
		return
	}
	initial := l.ballot == e.initial(inst.row)
	if initial && l.same.Result() == quorum.Won {
		if inst.bal != l.ballot || inst.vbal != l.ballot || inst.status != PreAccepted {
			panic(fmt.Sprintf("epaxos %v: fast path for %v at %v but promised %v, vbal %v, %v", e.id, inst.id(e.peers), l.ballot, inst.bal, inst.vbal, inst.status))
		}
		e.stats.FastPath++
		e.commit(inst, inst.cmds, l.orig, true)
		return
	}
	if l.votes.Result() != quorum.Won {
		return
	}
	fastPossible := initial && l.same.Acks().Len()+e.n-l.votes.Acks().Len() >= e.fq
	if !fastPossible {
		e.startAccept(inst, inst.cmds, l.merged)
		return
	}
	if !l.armed {
		// A majority answered but the fast quorum has not (yet): wait about
		// as long again as the majority took, then take the slow path.
		l.armed = true
		wait := max(e.env.Now().Sub(l.started), e.heartbeat()/10)
		e.env.After(wait, fastTimeout{Replica: e.peers[inst.row], Instance: inst.num, Ballot: l.ballot})
	}
}

func (e *EPaxos) handleFastTimeout(_ paxi.ID, m fastTimeout) {
	r, ok := e.index(m.Replica)
	if !ok {
		return
	}
	inst := e.at(r, m.Instance)
	if inst == nil || inst.lead == nil || inst.lead.ballot != m.Ballot || inst.lead.phase != phasePreAccept {
		return
	}
	if inst.lead.votes.Result() == quorum.Won {
		e.startAccept(inst, inst.cmds, inst.lead.merged)
	}
}

// startAccept runs the Paxos-Accept phase for inst at the lead's ballot
// with cmds and attributes a: accept them here and ask everyone.
func (e *EPaxos) startAccept(inst *instance, cmds []paxi.Command, a attrs) {
	l := inst.lead
	if inst.bal != l.ballot {
		panic(fmt.Sprintf("epaxos %v: Accept for %v at %v but promised %v", e.id, inst.id(e.peers), l.ballot, inst.bal))
	}
	now := e.env.Now()
	l.phase, l.votes, l.sent, l.started = phaseAccept, quorum.NewTracker(e.majority), now, now
	l.votes.Ack(e.id)
	inst.status, inst.cmds, inst.seq, inst.deps, inst.vbal, inst.original = Accepted, cmds, a.seq, a.deps, l.ballot, false
	e.learn(inst)
	e.env.Broadcast(Accept{Ballot: l.ballot, Replica: e.peers[inst.row], Instance: inst.num, Cmds: cmds, Seq: a.seq, Deps: a.deps})
	if l.votes.Result() == quorum.Won {
		e.commit(inst, cmds, a, true)
	}
}

// handleAccept is an acceptor's Paxos-Accept (§3.4 step 4): the ballot is
// raised on an existing instance too (§3.7 F4), and vbal records it.
func (e *EPaxos) handleAccept(from paxi.ID, m Accept) {
	r, ok := e.resolve("Accept", from, m.Replica, m.Instance)
	if !ok || !e.validValue("Accept", from, r, m.Instance, m.Cmds, m.Deps) || !e.validBallot("Accept", from, r, m.Ballot) {
		return
	}
	inst := e.get(r, m.Instance)
	switch {
	case inst.status == Committed:
		e.env.Send(from, e.commitMsg(inst))
		return
	case m.Ballot < inst.bal:
		e.env.Send(from, Nack{Ballot: inst.bal, Replica: m.Replica, Instance: m.Instance})
		return
	}
	e.raise(inst, m.Ballot)
	inst.status, inst.cmds, inst.seq, inst.deps, inst.vbal, inst.original = Accepted, m.Cmds, m.Seq, m.Deps, m.Ballot, false
	e.learn(inst)
	e.touch(inst)
	e.env.Send(from, AcceptOK{Ballot: m.Ballot, Replica: m.Replica, Instance: m.Instance})
}

func (e *EPaxos) handleAcceptOK(from paxi.ID, m AcceptOK) {
	inst := e.lookup("AcceptOK", from, m.Replica, m.Instance)
	if inst == nil {
		return
	}
	l := inst.lead
	if l == nil || l.phase != phaseAccept || l.ballot != m.Ballot {
		return
	}
	l.votes.Ack(from)
	if l.votes.Result() == quorum.Won {
		if l.ballot == e.initial(inst.row) {
			e.stats.SlowPath++
		}
		e.commit(inst, inst.cmds, inst.attrs(), true)
	}
}

func (e *EPaxos) handleCommit(from paxi.ID, m Commit) {
	r, ok := e.resolve("Commit", from, m.Replica, m.Instance)
	if !ok || !e.validValue("Commit", from, r, m.Instance, m.Cmds, m.Deps) {
		return
	}
	e.commit(e.get(r, m.Instance), m.Cmds, attrs{m.Seq, m.Deps}, false)
}

// handleNack: a replica promised a higher ballot for an instance this
// replica drives; someone else is recovering it, so stop and back off.
func (e *EPaxos) handleNack(from paxi.ID, m Nack) {
	inst := e.lookup("Nack", from, m.Replica, m.Instance)
	if inst == nil {
		return
	}
	inst.seen = max(inst.seen, m.Ballot)
	if inst.lead != nil && inst.lead.ballot < m.Ballot {
		e.abandon(inst)
	}
}

// InstanceInfo is a replica's view of one instance, for tests and tools.
type InstanceInfo struct {
	Status    Status
	Cmds      []paxi.Command
	Seq       uint64
	Deps      []int64
	Ballot    paxi.Ballot // promised
	VBallot   paxi.Ballot // at which Status, Cmds, Seq and Deps were set
	Executed  bool
	ExecOrder uint64 // 1-based position in this replica's execution order
}

// Instance returns this replica's view of an instance, if it knows of it.
func (e *EPaxos) Instance(id InstanceID) (InstanceInfo, bool) {
	r, ok := e.index(id.Replica)
	if !ok {
		return InstanceInfo{}, false
	}
	inst := e.at(r, id.Instance)
	if inst == nil {
		return InstanceInfo{}, false
	}
	return InstanceInfo{Status: inst.status, Cmds: slices.Clone(inst.cmds), Seq: inst.seq, Deps: slices.Clone(inst.deps),
		Ballot: inst.bal, VBallot: inst.vbal, Executed: inst.executed, ExecOrder: inst.execOrder}, true
}

// Instances returns the number of instances this replica knows of in each
// row, in peer order (the rows' lengths).
func (e *EPaxos) Instances() []int64 {
	out := make([]int64, e.n)
	for q, row := range e.rows {
		out[q] = int64(len(row))
	}
	return out
}

// StartRecovery makes this replica recover an instance now, as it does by
// itself for an instance stuck longer than its timeout. It is a test hook:
// call it only from the goroutine that drives Step (between simulator
// steps).
func (e *EPaxos) StartRecovery(id InstanceID) {
	r, ok := e.index(id.Replica)
	if !ok || !e.validNum(r, id.Instance) {
		return
	}
	inst := e.get(r, id.Instance)
	if inst.lead != nil {
		e.abandon(inst)
	}
	e.startRecovery(inst)
	e.flush()
}
