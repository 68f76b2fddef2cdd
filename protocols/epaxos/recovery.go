package epaxos

import (
	"fmt"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/quorum"
)

// startRecovery is explicit Prepare (PROTOCOLS.md §3.6): take over inst
// with a ballot above any seen, and ask every replica for its state of it.
func (e *EPaxos) startRecovery(inst *instance) {
	if inst.status == Committed || inst.lead != nil {
		return
	}
	top := max(inst.bal, inst.seen)
	b := paxi.NewBallot(top.Round()+1, e.id)
	e.env.Logger().Debug("recovering", "instance", inst.id(e.peers).String(), "ballot", b, "status", inst.status)
	e.stats.Recoveries++
	e.raise(inst, b)
	l := e.newLead(b, phasePrepare)
	l.replies = append(l.replies, e.prepareOK(inst, b))
	inst.lead = l
	e.touch(inst)
	e.env.Broadcast(Prepare{Ballot: b, Replica: e.peers[inst.row], Instance: inst.num})
	if l.votes.Result() == quorum.Won {
		e.decide(inst)
	}
}

// prepareOK reports this replica's state of inst for a Prepare at b.
func (e *EPaxos) prepareOK(inst *instance, b paxi.Ballot) PrepareOK {
	return PrepareOK{Ballot: b, Replica: e.peers[inst.row], Instance: inst.num, Status: inst.status, VBallot: inst.vbal,
		Original: inst.original, Cmds: inst.cmds, Seq: inst.seq, Deps: inst.deps}
}

// handlePrepare is an acceptor's recovery phase 1: promise the ballot (only
// bal moves; vbal and the attributes stay as they were set) and report the
// state. A committed instance is reported whatever the ballot: it is final.
func (e *EPaxos) handlePrepare(from paxi.ID, m Prepare) {
	r, ok := e.resolve("Prepare", from, m.Replica, m.Instance)
	if !ok || !e.validBallot("Prepare", from, r, m.Ballot) {
		return
	}
	inst := e.get(r, m.Instance)
	switch {
	case inst.status == Committed:
	case m.Ballot < inst.bal:
		e.env.Send(from, Nack{Ballot: inst.bal, Replica: m.Replica, Instance: m.Instance})
		return
	default:
		e.raise(inst, m.Ballot)
		e.touch(inst)
	}
	e.env.Send(from, e.prepareOK(inst, m.Ballot))
}

// handlePrepareOK collects the recovery quorum's reports; any committed
// report ends the recovery at once.
func (e *EPaxos) handlePrepareOK(from paxi.ID, m PrepareOK) {
	inst := e.lookup("PrepareOK", from, m.Replica, m.Instance)
	if inst == nil {
		return
	}
	if m.Status > Committed || (m.Status >= PreAccepted && !e.validValue("PrepareOK", from, inst.row, inst.num, m.Cmds, m.Deps)) {
		e.env.Logger().Warn("malformed PrepareOK ignored", "from", from, "instance", inst.id(e.peers).String())
		return
	}
	l := inst.lead
	if m.Status == Committed {
		e.commit(inst, m.Cmds, attrs{m.Seq, m.Deps}, l != nil && l.phase == phasePrepare)
		return
	}
	if l == nil || l.phase != phasePrepare || l.ballot != m.Ballot {
		return
	}
	if !l.votes.Ack(from) {
		return
	}
	l.replies = append(l.replies, m)
	if l.votes.Result() == quorum.Won {
		e.decide(inst)
	}
}

// decide picks what to do with an instance once a majority Q promised the
// recovery ballot b (the simplified recovery of the paper, with the
// corrections of PROTOCOLS.md §3.7; the argument is in doc.go):
//
//  1. Let v be the highest vbal reported with a command. If some report at
//     v is Accepted, run Accept(b) with it (classic Paxos: highest vbal).
//  2. If every report at v is a pre-accept and v is the initial ballot, a
//     fast path may have committed the leader's original attributes. It
//     can have only if the leader is not in Q (a leader that reports an
//     uncommitted instance never commits it at the initial ballot after
//     promising b) and at least `need` members of Q other than the leader
//     hold the original attributes. Then run Accept(b) with them.
//  3. Otherwise nothing can have been decided below b: restart phase 1 at
//     b with the command (fresh attributes, no fast path at b).
//  4. If nobody in Q has the command, nothing can have been decided either,
//     and nobody will at a lower ballot: commit a no-op.
func (e *EPaxos) decide(inst *instance) {
	l := inst.lead
	var vmax paxi.Ballot
	var top *PrepareOK
	for i := range l.replies {
		r := &l.replies[i]
		if r.Status >= PreAccepted && (top == nil || r.VBallot > vmax) {
			vmax, top = r.VBallot, r
		}
	}
	if top == nil {
		e.env.Logger().Debug("recovery: nobody has the command, no-op", "instance", inst.id(e.peers).String(), "ballot", l.ballot)
		e.stats.RecoveredNoop++
		e.startAccept(inst, []paxi.Command{{Op: paxi.Noop}}, e.noopAttrs(inst.row, inst.num))
		return
	}
	for i := range l.replies {
		if r := &l.replies[i]; r.Status == Accepted && r.VBallot == vmax {
			e.stats.RecoveredAccepted++
			e.startAccept(inst, r.Cmds, attrs{r.Seq, r.Deps})
			return
		}
	}
	owner := e.peers[inst.row]
	if vmax == e.initial(inst.row) && !l.votes.Voted(owner) {
		var orig *PrepareOK
		count := 0
		for i := range l.replies {
			r := &l.replies[i]
			if r.Status != PreAccepted || r.VBallot != vmax || !r.Original {
				continue
			}
			if orig != nil && (!sameCmds(orig.Cmds, r.Cmds) || !(attrs{orig.Seq, orig.Deps}).equal(attrs{r.Seq, r.Deps})) {
				panic(fmt.Sprintf("epaxos %v: recovery of %v: two original pre-accepts differ: %v and %v", e.id, inst.id(e.peers), orig, r))
			}
			orig = r
			count++
		}
		if count >= e.need {
			e.stats.RecoveredOriginal++
			e.startAccept(inst, orig.Cmds, attrs{orig.Seq, orig.Deps})
			return
		}
	}
	e.stats.RecoveredRestart++
	e.restartPhase1(inst, top.Cmds)
}

// restartPhase1 runs phase 1 again for inst at the recovery ballot, with
// attributes computed afresh here and merged with a majority's.
func (e *EPaxos) restartPhase1(inst *instance, cmds []paxi.Command) {
	l := inst.lead
	a := e.localAttrs(inst.row, inst.num, cmds)
	now := e.env.Now()
	l.phase, l.votes, l.sent, l.started = phasePreAccept, quorum.NewTracker(e.majority), now, now
	l.votes.Ack(e.id)
	l.orig, l.merged, l.replies = a, a, nil
	inst.status, inst.cmds, inst.seq, inst.deps, inst.vbal, inst.original = PreAccepted, cmds, a.seq, a.deps, l.ballot, false
	e.learn(inst)
	e.env.Broadcast(PreAccept{Ballot: l.ballot, Replica: e.peers[inst.row], Instance: inst.num, Cmds: cmds, Seq: a.seq, Deps: a.deps})
	e.checkPreAccept(inst)
}
