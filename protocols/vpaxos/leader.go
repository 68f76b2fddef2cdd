package vpaxos

import (
	"fmt"
	"slices"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/quorum"
)

// phase is where a leader is in setting up its ballot (§6.2 steps 1-6).
type phase int

const (
	// asking: the NewBallot op is out to the master.
	asking phase = iota
	// preparing: P1a sent to the previous configuration, waiting for a
	// read quorum (one member) of P1b.
	preparing
	// transferring: Transfer sent to the new configuration, waiting for
	// a write quorum (every member) of TransferAck.
	transferring
	// completing: the Complete op is out to the master.
	completing
	// active: the master activated the ballot; phase 2 runs.
	active
)

func (p phase) String() string {
	return [...]string{"asking", "preparing", "transferring", "completing", "active"}[p]
}

// leadership is a node's state as leader (or would-be leader) of an object.
type leadership struct {
	phase   phase
	expect  paxi.Ballot // asking: the last issued ballot the NewBallot expects
	ballot  paxi.Ballot // 0 while asking
	cfg     Configuration
	prev    paxi.Ballot // the previous active ballot, whose state is read
	prevCfg Configuration
	quorums quorum.Pair // over cfg: read quorum any one member, write quorum all
	op      uint64      // the outstanding master op (asking, completing)
	since   time.Time   // when the phase began
	sent    time.Time   // last (re)transmission of the phase's messages
	from    int64       // P1a.From: the leader's applied prefix when it sent P1a
	end     int64       // highest slot of the log in this ballot
	acks    quorum.Tracker
	need    map[paxi.ID]int64 // transferring: slot to send each member from
	pending []paxi.Request    // requests to propose once active

	// Active only.
	commit   int64     // every slot below is committed and applied here
	activeAt time.Time // when the ballot was activated
	zones    []int     // zones of the latest requests, for the locality policy
	moved    time.Time // last Move hint sent
}

// pbQuorums returns primary-backup quorums over a configuration: a read
// quorum is any one member and a write quorum every member (Flexible Paxos
// counts 1 and N, which intersect).
func pbQuorums(c Configuration) quorum.Pair {
	nodes := paxi.SortIDs(slices.Clone([]paxi.ID(c)))
	q1, q2, err := quorum.Flexible(nodes, 1, len(nodes))
	if err != nil {
		panic(fmt.Sprintf("vpaxos: quorums over configuration %v: %v", c, err))
	}
	return quorum.Pair{Q1: q1, Q2: q2}
}

// startLeading asks the master for a ballot of o after expect, led by this
// node with a configuration of its choice. Requests waiting at the object
// (and at a leadership this one replaces) are kept for it.
func (r *VPaxos) startLeading(o *object, expect paxi.Ballot) {
	var pending []paxi.Request
	if l := o.lead; l != nil {
		pending = l.pending
		delete(r.ops, l.op)
	}
	pending = append(pending, o.queue...)
	o.queue = nil
	now := r.env.Now()
	l := &leadership{phase: asking, expect: expect, cfg: r.chooseConfig(), pending: pending, since: now, sent: now}
	o.lead = l
	r.env.Logger().Debug("asking for a ballot", "key", o.key, "after", expect, "config", l.cfg)
	l.op = r.submitOp(MasterOp{Kind: OpNewBallot, Key: o.key, Ballot: expect, Leader: r.id, Config: l.cfg})
}

// abandon ends this node's leadership of o, which a newer ballot has
// superseded (or fenced), and hands its requests to that ballot's leader.
func (r *VPaxos) abandon(o *object, newer paxi.Ballot) {
	l := o.lead
	if l == nil {
		return
	}
	if l.phase == active {
		r.stats.Fenced++
		r.env.Logger().Info("primary fenced", "key", o.key, "ballot", l.ballot, "by", newer)
	} else {
		r.stats.Abandoned++
	}
	o.lead = nil
	delete(r.ops, l.op)
	r.learnBallot(o, newer)
	reqs := l.pending
	// The commands this node proposed and did not commit may be lost with
	// its ballot; hand them on now rather than wait for their nodes to
	// re-send them. A command the new leader has already is not proposed
	// twice (see propose).
	for s := max(o.execute, 0); s < int64(len(o.log)); s++ {
		if e := o.log[s]; e != nil && !e.committed && e.hasReq {
			reqs = append(reqs, e.req)
			e.hasReq = false
		}
	}
	for _, req := range reqs {
		r.route(o, req)
	}
}

// onIssued takes the master's answer to this node's NewBallot.
func (r *VPaxos) onIssued(o *object, op MasterOp, m MasterReply) {
	l := o.lead
	if l == nil || l.phase != asking || l.op != op.ID {
		return
	}
	b := op.Ballot.Next(r.id)
	if m.Issued != b {
		// Someone else's ballot came first: follow it.
		r.abandon(o, m.Issued)
		return
	}
	if o.maxBal > b {
		r.abandon(o, o.maxBal)
		return
	}
	now := r.env.Now()
	l.ballot, l.cfg, l.prev, l.prevCfg = b, m.IssuedConfig, m.Active, m.ActiveConfig
	l.quorums = pbQuorums(l.cfg)
	l.phase, l.since, l.sent = preparing, now, now
	l.from = o.execute
	r.env.Logger().Debug("ballot issued", "key", o.key, "ballot", b, "config", l.cfg, "prev", l.prev, "prevConfig", l.prevCfg)
	if l.prev == 0 {
		// No ballot was ever active, so nothing was ever chosen: the safe
		// state is empty.
		r.prepared(o, nil)
		return
	}
	r.env.Multicast(l.prevCfg, P1a{Key: o.key, Ballot: b, From: l.from})
}

// handleP1b is the leader reading the previous configuration's state: one
// member's promise is a read quorum.
func (r *VPaxos) handleP1b(from paxi.ID, m P1b) {
	o := r.obj(m.Key)
	l := o.lead
	if l == nil || l.ballot == 0 {
		r.learnBallot(o, m.Ballot)
		return
	}
	if m.Ballot > l.ballot {
		r.abandon(o, m.Ballot)
		return
	}
	if l.phase != preparing || m.Ballot != l.ballot || !l.prevCfg.Has(from) {
		return
	}
	for _, e := range m.Entries {
		if e.Slot < l.from || !o.valid(e.Slot) {
			r.env.Logger().Warn("P1b with slots out of range ignored", "from", from, "slot", e.Slot)
			return
		}
	}
	r.prepared(o, m.Entries)
}

// prepared installs the state read from the previous configuration (with
// the highest-ballot vote per slot: one member's log is a read quorum, and
// this node's applied prefix below From is committed) and starts the
// transfer to the new configuration.
func (r *VPaxos) prepared(o *object, es []Entry) {
	l := o.lead
	if o.maxBal > l.ballot {
		r.abandon(o, o.maxBal)
		return
	}
	o.maxBal = l.ballot
	from := l.from
	if l.prev == 0 {
		from = 0
	}
	end := from - 1
	for _, e := range es {
		end = max(end, e.Slot)
	}
	if !o.install(from, end, es) {
		r.abandon(o, o.view) // a stale ballot (see install)
		return
	}
	o.installed = l.ballot
	r.exec(o)
	now := r.env.Now()
	l.end, l.from = end, from
	l.phase, l.since, l.sent = transferring, now, now
	l.acks = quorum.NewTracker(l.quorums.Q2)
	l.acks.Ack(r.id)
	l.need = map[paxi.ID]int64{}
	for _, id := range l.cfg {
		if id != r.id {
			l.need[id] = from
			r.sendTransfer(o, id)
		}
	}
	r.maybeComplete(o)
}

// sendTransfer sends a member of the new configuration the state from the
// slot it needs.
func (r *VPaxos) sendTransfer(o *object, to paxi.ID) {
	l := o.lead
	from := l.need[to]
	r.env.Send(to, Transfer{Key: o.key, Ballot: l.ballot, From: from, End: l.end, Entries: o.entries(from, l.end)})
}

func (r *VPaxos) handleTransferAck(from paxi.ID, m TransferAck) {
	o := r.obj(m.Key)
	l := o.lead
	if l == nil || l.ballot == 0 {
		r.learnBallot(o, m.Ballot)
		return
	}
	if m.Ballot > l.ballot {
		r.abandon(o, m.Ballot)
		return
	}
	if l.phase != transferring || m.Ballot != l.ballot || !l.cfg.Has(from) || from == r.id {
		return
	}
	if m.Need >= 0 {
		// The member lacks committed slots below the transfer: send them.
		if m.Need < l.need[from] {
			l.need[from] = m.Need
			r.sendTransfer(o, from)
		}
		return
	}
	l.acks.Ack(from)
	r.maybeComplete(o)
}

// maybeComplete tells the master the transfer is done once every member of
// the new configuration holds the state.
func (r *VPaxos) maybeComplete(o *object) {
	l := o.lead
	if l.phase != transferring || l.acks.Result() != quorum.Won {
		return
	}
	l.phase, l.since = completing, r.env.Now()
	l.op = r.submitOp(MasterOp{Kind: OpComplete, Key: o.key, Ballot: l.ballot})
}

// onActivated takes the master's answer to this node's Complete.
func (r *VPaxos) onActivated(o *object, op MasterOp, m MasterReply) {
	l := o.lead
	if l == nil || l.phase != completing || l.op != op.ID {
		return
	}
	if m.Active != l.ballot {
		r.abandon(o, m.Issued) // superseded before activation
		return
	}
	r.becomeActive(o)
}

// becomeActive starts phase 2 in the activated ballot: slots of the state
// read that are not committed are proposed again at this ballot with the
// value read (holes get no-ops), then the requests that waited.
func (r *VPaxos) becomeActive(o *object) {
	l := o.lead
	now := r.env.Now()
	l.phase, l.since, l.activeAt, l.commit = active, now, now, o.execute
	r.stats.Activated++
	o.changed = now
	r.env.Logger().Info("primary", "key", o.key, "ballot", l.ballot, "config", l.cfg, "slots", l.end+1)
	for s := o.execute; s <= l.end; s++ {
		e := o.at(s)
		if e == nil {
			e = &entry{cmd: paxi.Command{Op: paxi.Noop}}
			o.set(s, e)
		}
		if e.committed {
			continue
		}
		r.sendP2a(o, s, e)
	}
	r.exec(o)
	pending := l.pending
	l.pending = nil
	for _, req := range pending {
		r.route(o, req)
	}
}

// sendP2a (re)starts phase 2 of slot s at the leader's ballot.
func (r *VPaxos) sendP2a(o *object, s int64, e *entry) {
	l := o.lead
	now := r.env.Now()
	e.ballot, e.acks, e.proposed, e.sent = l.ballot, quorum.NewTracker(l.quorums.Q2), now, now
	e.acks.Ack(r.id)
	for _, id := range l.cfg {
		if id != r.id {
			r.env.Send(id, P2a{Key: o.key, Ballot: l.ballot, Slot: s, Command: e.cmd})
		}
	}
	if e.acks.Result() == quorum.Won {
		r.commitSlot(o, s, e)
	}
}

// propose puts a client command in the next slot, unless the log holds it
// already and it is not yet applied here (a request re-sent, or handed on
// by a fenced primary, that is in the state this leader read).
func (r *VPaxos) propose(o *object, req paxi.Request) {
	c := req.Command
	if s, ok := o.index[cmdKey{c.ClientID, c.CommandID}]; ok && s >= o.execute {
		if e := o.at(s); e != nil && sameCommand(e.cmd, c) {
			return
		}
	}
	l := o.lead
	l.end = max(l.end, int64(len(o.log))-1) + 1
	s := l.end
	e := &entry{cmd: c, req: req, hasReq: true}
	o.set(s, e)
	r.sendP2a(o, s, e)
}

// handleP2b is the primary counting acceptances: every member of the
// configuration commits a slot.
func (r *VPaxos) handleP2b(from paxi.ID, m P2b) {
	o := r.obj(m.Key)
	l := o.lead
	if l == nil || l.ballot == 0 {
		r.learnBallot(o, m.Ballot)
		return
	}
	if m.Ballot > l.ballot {
		r.abandon(o, m.Ballot) // fenced: a newer configuration read the state
		return
	}
	if l.phase != active || m.Ballot != l.ballot || !l.cfg.Has(from) {
		return
	}
	e := o.at(m.Slot)
	if e == nil || e.committed || e.ballot != l.ballot {
		return
	}
	e.acks.Ack(from)
	if e.acks.Result() == quorum.Won {
		r.commitSlot(o, m.Slot, e)
	}
}

// commitSlot commits slot s: every node learns it, and it is applied.
func (r *VPaxos) commitSlot(o *object, s int64, e *entry) {
	e.committed = true
	e.hasReq = false
	o.changed = r.env.Now()
	r.env.Broadcast(P3{Key: o.key, Ballot: e.ballot, Slot: s, Command: e.cmd})
	r.exec(o)
}

// policy is the locality policy: when an object's last MoveAfter requests
// came from one other zone, hint a node there to take the object.
func (r *VPaxos) policy(o *object, req paxi.Request) {
	l := o.lead
	if r.opts.MoveAfter < 0 || req.Node == 0 {
		return
	}
	l.zones = append(l.zones, req.Node.Zone())
	if len(l.zones) > r.opts.MoveAfter {
		l.zones = l.zones[1:]
	}
	if len(l.zones) < r.opts.MoveAfter {
		return
	}
	z := l.zones[0]
	if z == r.id.Zone() || slices.ContainsFunc(l.zones, func(x int) bool { return x != z }) {
		return
	}
	now := r.env.Now()
	if now.Sub(l.activeAt) < r.moveDwell() || now.Sub(l.moved) < r.moveDwell() {
		return
	}
	l.moved = now
	l.zones = nil
	r.stats.Moves++
	r.env.Send(req.Node, Move{Key: o.key, Ballot: l.ballot})
}

// leaderTick drives a leader's timeouts: retransmission of P1a, Transfer
// and P2a; a new configuration without the members that do not answer; and
// a larger one again once suspicions have expired.
func (r *VPaxos) leaderTick(o *object, now time.Time) {
	l := o.lead
	switch l.phase {
	case preparing:
		// A read quorum is any one member of the previous configuration;
		// if none answers there is nothing to do but wait for one.
		if now.Sub(l.sent) >= r.retry() {
			l.sent = now
			r.env.Multicast(l.prevCfg, P1a{Key: o.key, Ballot: l.ballot, From: l.from})
		}
	case transferring:
		if now.Sub(l.since) >= r.suspectAfter() {
			for _, id := range l.cfg {
				if !l.acks.Voted(id) {
					r.suspect(id)
				}
			}
			r.stats.Shrinks++
			r.startLeading(o, l.ballot)
			return
		}
		if now.Sub(l.sent) >= r.retry() {
			l.sent = now
			for _, id := range l.cfg {
				if !l.acks.Voted(id) {
					r.sendTransfer(o, id)
				}
			}
		}
	case active:
		r.activeTick(o, now)
	}
}

func (r *VPaxos) activeTick(o *object, now time.Time) {
	l := o.lead
	for s := l.commit; s <= l.end; s++ {
		e := o.at(s)
		if e == nil || e.committed || e.ballot != l.ballot {
			continue
		}
		if now.Sub(e.proposed) >= r.suspectAfter() {
			// A backup has not acknowledged for too long: leave it out.
			for _, id := range l.cfg {
				if !e.acks.Voted(id) {
					r.suspect(id)
				}
			}
			r.env.Logger().Info("reconfiguring without unresponsive backups", "key", o.key, "ballot", l.ballot)
			r.stats.Shrinks++
			r.startLeading(o, l.ballot)
			return
		}
		if now.Sub(e.sent) >= r.retry() {
			e.sent = now
			for _, id := range l.cfg {
				if !e.acks.Voted(id) {
					r.env.Send(id, P2a{Key: o.key, Ballot: l.ballot, Slot: s, Command: e.cmd})
				}
			}
		}
	}
	// Regain fault tolerance: once suspicions have expired, a primary with
	// fewer backups than it wants forms a larger configuration.
	if len(l.cfg)-1 < r.opts.Backups && now.Sub(l.activeAt) >= r.suspectFor() && len(r.chooseConfig()) > len(l.cfg) {
		r.startLeading(o, l.ballot)
	}
}

// beatEvery is how often (in ticks) a primary lists all its objects in its
// Beat, not only those that changed lately.
const beatEvery = 20

// beat sends every other node the objects this node is active primary of
// that changed in the last beatEvery ticks (all of them every beatEvery
// ticks), so that learners that lost a P3 catch up, and every node learns
// the primaries.
func (r *VPaxos) beat(now time.Time) {
	all := r.ticks%beatEvery == 0
	recent := beatEvery * r.heartbeat()
	var es []BeatEntry
	for _, k := range r.keys {
		o := r.objects[k]
		if l := o.lead; l != nil && l.phase == active && (all || now.Sub(o.changed) <= recent) {
			es = append(es, BeatEntry{Key: k, Ballot: l.ballot, Commit: l.commit})
		}
	}
	if len(es) > 0 {
		r.env.Broadcast(Beat{Entries: es})
	}
}
