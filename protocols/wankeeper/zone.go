package wankeeper

import (
	"fmt"
	"slices"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/quorum"
)

// Zone-local replication: Multi-Paxos among the nodes of one zone, with
// majority quorums of the zone, a zone leader elected by timeouts, batching,
// pipelining, retransmission and catch-up, after protocols/paxos. Each node
// also learns every other zone's log from its leader's Commits and
// Heartbeats.

// own returns this node's zone log.
func (w *WanKeeper) own() *zoneLog { return w.k.logs[w.zone] }

// newQ2 returns a phase-2 vote tracker holding this node's own vote.
func (w *WanKeeper) newQ2() quorum.Tracker {
	t := quorum.NewTracker(w.quorum)
	t.Ack(w.id)
	return t
}

// startPhase1 campaigns in the zone with a ballot higher than any seen.
func (w *WanKeeper) startPhase1() {
	w.k.ballot = w.k.ballot.Next(w.id)
	w.active = false
	w.inflight = 0
	w.q1.Reset()
	w.q1.Ack(w.id)
	w.resetElection()
	w.env.Logger().Debug("phase 1", "zone", w.zone, "ballot", w.k.ballot)
	w.env.MulticastZone(w.zone, NewBallot{Zone: w.zone, Ballot: w.k.ballot, Execute: w.own().execute})
	if w.q1.Result() == quorum.Won {
		w.becomeLeader()
	}
}

// stepDown adopts a higher ballot of the zone owned by another node and
// hands it the requests this node was holding or ordering.
func (w *WanKeeper) stepDown(b paxi.Ballot) {
	if b <= w.k.ballot {
		panic(fmt.Sprintf("wankeeper %v: step down from %v to lower ballot %v", w.id, w.k.ballot, b))
	}
	if w.active {
		w.env.Logger().Info("zone leader stepping down", "zone", w.zone, "ballot", w.k.ballot, "new", b)
	}
	w.k.ballot = b
	var rs []paxi.Request
	rs = append(rs, w.held...)
	for _, it := range w.queue {
		if it.req != nil {
			rs = append(rs, *it.req)
		}
	}
	for _, key := range sortedMapKeys(w.awaiting) {
		rs = append(rs, w.awaiting[key]...)
	}
	for _, key := range sortedMapKeys(w.queued) {
		rs = append(rs, w.queued[key]...)
	}
	w.held = nil
	w.resetVolatile()
	w.resetElection()
	if b.ID() == w.id {
		return
	}
	// Requests proposed in slots that may now be lost are re-sent by the
	// nodes that took them (resendStale); the rest go to the new leader.
	for _, r := range rs {
		if r.Node != w.id {
			w.env.Send(b.ID(), r)
		}
	}
	w.resendAll()
}

// resendAll routes again every request this node took from a client.
func (w *WanKeeper) resendAll() {
	now := w.env.Now()
	for _, wt := range w.waiting {
		wt.sent = now.Add(-time.Duration(w.cfg.ElectionTimeout))
	}
	w.resendStale(now)
}

func (w *WanKeeper) handleNewBallot(from paxi.ID, m NewBallot) {
	if m.Zone != w.zone {
		return
	}
	if m.Ballot > w.k.ballot {
		w.stepDown(m.Ballot)
	}
	l := w.own()
	reply := Vote{Zone: w.zone, Ballot: w.k.ballot, Slot: l.slot}
	if m.Ballot == w.k.ballot {
		for s := max(m.Execute, 0); s <= l.slot; s++ {
			if e := l.at(s); e != nil {
				reply.Log = append(reply.Log, Entry{Slot: s, Ballot: e.ballot, Records: e.recs, Committed: e.committed})
			}
		}
	}
	w.env.Send(from, reply)
}

func (w *WanKeeper) handleVote(from paxi.ID, m Vote) {
	if m.Zone != w.zone {
		return
	}
	if m.Ballot > w.k.ballot {
		w.stepDown(m.Ballot)
		return
	}
	if m.Ballot < w.k.ballot || w.active || w.k.ballot.ID() != w.id {
		return // stale
	}
	l := w.own()
	if !l.valid(m.Slot) || slices.ContainsFunc(m.Log, func(e Entry) bool { return !l.valid(e.Slot) || e.Slot < 0 }) {
		w.env.Logger().Warn("Vote with slots out of range ignored", "from", from, "slot", m.Slot)
		return
	}
	for _, r := range m.Log {
		e := l.at(r.Slot)
		switch {
		case e != nil && e.committed:
			if !sameRecords(e.recs, r.Records) && r.Committed {
				panic(fmt.Sprintf("wankeeper %v: zone slot %d committed as %s, %v reports %s", w.id, r.Slot, recordsString(e.recs), from, recordsString(r.Records)))
			}
		case r.Committed:
			l.learn(r.Slot, r.Ballot, r.Records)
		case e == nil || r.Ballot > e.ballot:
			w.accept(r.Slot, r.Ballot, r.Records)
		}
	}
	l.slot = max(l.slot, m.Slot)
	w.q1.Ack(from)
	if w.q1.Result() == quorum.Won {
		w.becomeLeader()
	}
	w.exec(w.zone)
}

// becomeLeader finishes phase 1: every slot the quorum reported is driven to
// commit at the new ballot with the records of the highest ballot seen,
// holes are filled with no-ops, and held requests follow.
func (w *WanKeeper) becomeLeader() {
	w.active = true
	l := w.own()
	w.commit = max(w.commit, l.execute)
	w.env.Logger().Info("zone leader", "zone", w.zone, "ballot", w.k.ballot, "execute", l.execute, "slot", l.slot)
	now := w.env.Now()
	for s := l.execute; s <= l.slot; s++ {
		e := l.at(s)
		if e == nil {
			e = &entry{recs: []Record{{Kind: Noop}}}
			l.set(s, e)
		}
		if e.committed {
			w.env.Broadcast(Commit{Zone: w.zone, Ballot: w.k.ballot, Slot: s, Records: e.recs})
			continue
		}
		e.ballot, e.acks, e.sent = w.k.ballot, w.newQ2(), now
		w.inflight++
		w.env.MulticastZone(w.zone, Proposal{Zone: w.zone, Ballot: w.k.ballot, Slot: s, Records: e.recs})
		if e.acks.Result() == quorum.Won {
			w.commitSlot(s, e)
		}
	}
	w.advanceCommit()
	w.env.Broadcast(Heartbeat{Zone: w.zone, Ballot: w.k.ballot, Slot: l.slot, Commit: w.commit})
	held := w.held
	w.held = nil
	for _, r := range held {
		w.lead(r)
	}
	if w.zone == w.master {
		w.masterDuties()
	}
	w.propose()
}

// push queues a record for the zone log and proposes it if the pipeline
// has room.
func (w *WanKeeper) push(rec Record, req *paxi.Request) {
	if !w.active {
		panic(fmt.Sprintf("wankeeper %v: push %v while not leading", w.id, rec))
	}
	w.queue = append(w.queue, item{rec: rec, req: req})
	w.propose()
}

// propose puts queued records into new slots while the pipeline has room,
// up to BatchMax records per slot.
func (w *WanKeeper) propose() {
	l := w.own()
	for w.active && len(w.queue) > 0 && w.inflight < w.cfg.Pipeline {
		n := min(len(w.queue), w.cfg.BatchMax)
		recs := make([]Record, n)
		for i, it := range w.queue[:n] {
			recs[i] = it.rec
			if it.req != nil {
				w.inlog[keyOf(it.req.Command)] = *it.req
			}
		}
		w.queue = w.queue[n:]
		if len(w.queue) == 0 {
			w.queue = nil
		}
		s := l.slot + 1
		e := &entry{ballot: w.k.ballot, recs: recs, acks: w.newQ2(), sent: w.env.Now()}
		l.set(s, e)
		w.inflight++
		w.env.MulticastZone(w.zone, Proposal{Zone: w.zone, Ballot: w.k.ballot, Slot: s, Records: recs})
		if e.acks.Result() == quorum.Won {
			w.commitSlot(s, e)
		}
	}
}

// accept records that this node accepted recs in slot s at ballot b.
func (w *WanKeeper) accept(s int64, b paxi.Ballot, recs []Record) {
	l := w.own()
	e := l.at(s)
	if e == nil {
		l.set(s, &entry{ballot: b, recs: recs})
		return
	}
	if e.committed {
		panic(fmt.Sprintf("wankeeper %v: accept into committed zone slot %d", w.id, s))
	}
	e.ballot, e.recs = b, recs
}

func (w *WanKeeper) handleProposal(from paxi.ID, m Proposal) {
	l := w.own()
	if m.Zone != w.zone || m.Slot < 0 || !l.valid(m.Slot) {
		w.env.Logger().Warn("Proposal for another zone or out of range ignored", "from", from, "zone", m.Zone, "slot", m.Slot)
		return
	}
	if m.Ballot < w.k.ballot {
		w.env.Send(from, Ack{Zone: w.zone, Ballot: w.k.ballot, Slot: m.Slot}) // refuse
		return
	}
	if m.Ballot > w.k.ballot {
		w.stepDown(m.Ballot)
	}
	w.heard = w.env.Now()
	if e := l.at(m.Slot); e == nil || !e.committed {
		w.accept(m.Slot, m.Ballot, m.Records)
	}
	w.env.Send(from, Ack{Zone: w.zone, Ballot: w.k.ballot, Slot: m.Slot})
}

func (w *WanKeeper) handleAck(from paxi.ID, m Ack) {
	if m.Zone != w.zone {
		return
	}
	if m.Ballot > w.k.ballot {
		w.stepDown(m.Ballot)
		return
	}
	if m.Ballot < w.k.ballot || !w.active {
		return
	}
	e := w.own().at(m.Slot)
	if e == nil || e.committed || e.ballot != w.k.ballot {
		return
	}
	e.acks.Ack(from)
	if e.acks.Result() == quorum.Won {
		w.commitSlot(m.Slot, e)
	}
}

// commitSlot is the zone leader's commit of slot s: every node of every
// zone learns it (the zone's nodes that accepted it without the records),
// the zone applies it, and the pipeline refills.
func (w *WanKeeper) commitSlot(s int64, e *entry) {
	e.committed = true
	w.inflight--
	for _, id := range w.env.Peers() {
		if id == w.id {
			continue
		}
		if id.Zone() == w.zone && e.acks.Voted(id) {
			w.env.Send(id, Commit{Zone: w.zone, Ballot: w.k.ballot, Slot: s})
		} else {
			w.env.Send(id, Commit{Zone: w.zone, Ballot: w.k.ballot, Slot: s, Records: e.recs})
		}
	}
	w.advanceCommit()
	w.exec(w.zone)
	w.propose()
}

func (w *WanKeeper) advanceCommit() {
	l := w.own()
	for {
		e := l.at(w.commit)
		if e == nil || !e.committed {
			return
		}
		w.commit++
	}
}

// noteLeader records a foreign zone's leader ballot from its messages.
func (w *WanKeeper) noteLeader(z int, b paxi.Ballot) {
	l := w.k.logs[z]
	if b > l.leader {
		l.leader = b
		if z == w.master {
			w.flushToMaster()
		}
	}
}

func (w *WanKeeper) handleCommit(from paxi.ID, m Commit) {
	l, ok := w.k.logs[m.Zone]
	if !ok || m.Slot < 0 || !l.valid(m.Slot) {
		w.env.Logger().Warn("Commit for unknown zone or out of range ignored", "from", from, "zone", m.Zone, "slot", m.Slot)
		return
	}
	if m.Zone != w.zone {
		if from.Zone() == m.Zone {
			w.noteLeader(m.Zone, m.Ballot)
		}
		if len(m.Records) == 0 {
			w.env.Send(from, CatchUp{Zone: m.Zone, From: m.Slot, To: m.Slot})
			return
		}
		l.learn(m.Slot, m.Ballot, m.Records)
		w.exec(m.Zone)
		return
	}
	if m.Ballot > w.k.ballot && from.Zone() == w.zone && m.Ballot.ID() == from {
		w.stepDown(m.Ballot)
	}
	if m.Ballot == w.k.ballot {
		w.heard = w.env.Now()
	}
	e := l.at(m.Slot)
	switch {
	case len(m.Records) > 0:
		l.learn(m.Slot, m.Ballot, m.Records)
	case e != nil && e.committed:
	case e != nil && e.ballot == m.Ballot:
		e.committed = true
	default:
		w.env.Send(from, CatchUp{Zone: m.Zone, From: m.Slot, To: m.Slot})
		return
	}
	w.exec(m.Zone)
}

func (w *WanKeeper) handleHeartbeat(from paxi.ID, m Heartbeat) {
	l, ok := w.k.logs[m.Zone]
	if !ok || from.Zone() != m.Zone || !l.valid(m.Slot) || m.Commit > m.Slot+1 || m.Commit < 0 {
		w.env.Logger().Warn("Heartbeat out of range ignored", "from", from, "zone", m.Zone, "slot", m.Slot, "commit", m.Commit)
		return
	}
	own := m.Zone == w.zone
	if own {
		if m.Ballot < w.k.ballot {
			return
		}
		if m.Ballot > w.k.ballot {
			w.stepDown(m.Ballot)
		}
		w.heard = w.env.Now()
		l.slot = max(l.slot, m.Slot)
	} else {
		w.noteLeader(m.Zone, m.Ballot)
	}
	// Every slot below m.Commit is committed at the sender. An own-zone
	// slot accepted at the leader's ballot holds the leader's records,
	// which are the chosen ones; anything else must be fetched.
	missing := int64(-1)
	for s := l.execute; s < m.Commit; s++ {
		e := l.at(s)
		switch {
		case e != nil && e.committed:
		case own && e != nil && e.ballot == m.Ballot:
			e.committed = true
		case missing < 0:
			missing = s
		}
	}
	if missing >= 0 {
		w.env.Send(from, CatchUp{Zone: m.Zone, From: missing, To: m.Commit - 1})
	}
	w.exec(m.Zone)
}

// maxCatchUp bounds the slots sent for one CatchUp.
const maxCatchUp = 1024

func (w *WanKeeper) handleCatchUp(from paxi.ID, m CatchUp) {
	l, ok := w.k.logs[m.Zone]
	if !ok {
		return
	}
	sent := 0
	for s := max(m.From, 0); s <= m.To && sent < maxCatchUp; s++ {
		if e := l.at(s); e != nil && e.committed {
			w.env.Send(from, Commit{Zone: m.Zone, Ballot: e.ballot, Slot: s, Records: e.recs})
			sent++
		}
	}
}

// retransmit re-sends Proposals for slots not committed within the retry
// interval to the zone's nodes that have not accepted them.
func (w *WanKeeper) retransmit(now time.Time) {
	l := w.own()
	for s := w.commit; s <= l.slot; s++ {
		e := l.at(s)
		if e == nil || e.committed || now.Sub(e.sent) < w.retry() {
			continue
		}
		e.sent = now
		for _, id := range w.zonePeers {
			if !e.acks.Voted(id) {
				w.env.Send(id, Proposal{Zone: w.zone, Ballot: w.k.ballot, Slot: s, Records: e.recs})
			}
		}
	}
}

func sortedMapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
