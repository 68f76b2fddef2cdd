package paxos

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/quorum"
)

// Protocol is the protocol-table entry for Multi-Paxos.
func Protocol() paxi.Protocol {
	return paxi.Protocol{Name: "paxos", New: New, Recover: Recover, Messages: Messages}
}

// entry is the replica's state for one log slot.
type entry struct {
	ballot    paxi.Ballot // ballot the commands were accepted (or proposed) at
	cmds      []paxi.Command
	committed bool
	acks      quorum.Tracker // leader only: phase-2 acceptors at ballot
	sent      time.Time      // leader only: when the P2a was last sent
}

// cmdKey names a client command for routing its reply.
type cmdKey struct {
	client string
	id     uint64
}

// waiting is a client request this node received and has not executed yet.
// The node that received a request answers it when it executes the command
// (leader or not), so it must keep the request until then, and re-send it
// if the leader it went to fails.
type waiting struct {
	reqs   []paxi.Request // more than one when a client retried
	sent   time.Time      // last time it was forwarded or proposed
	ballot paxi.Ballot    // ballot this node proposed it at as leader (0: forwarded)
}

// Paxos is one Multi-Paxos replica. Every node is proposer, acceptor and
// learner; the leader is the owner of the highest ballot that completed
// phase 1.
type Paxos struct {
	env     paxi.Env
	cfg     *paxi.Config
	id      paxi.ID
	peers   []paxi.ID
	quorum  quorum.Pair // Q1 for phase 1, Q2 for phase 2
	thrifty bool        // send P2a to a smallest Q2 only (see Options)
	q2peers []paxi.ID   // thrifty: the peers that with this node form a Q2
	passive bool        // no elections on silence (see Options)
	router  paxi.Router

	ballot  paxi.Ballot // highest ballot seen; promised to it
	active  bool        // ballot is mine and its phase 1 completed
	log     slotLog
	slot    int64 // highest slot known (-1: none)
	execute int64 // next slot to apply; every slot below is applied
	commit  int64 // leader: every slot below is committed here

	q1       quorum.Tracker      // phase-1 promises for ballot
	pending  []paxi.Request      // client requests not yet proposed
	inflight int                 // leader: proposed slots not yet committed
	waiting  map[cmdKey]*waiting // client requests received here, not yet executed

	heard    time.Time     // last sign of life of the leader (or of phase 1 start)
	deadline time.Duration // current randomised election timeout
}

// New creates a Multi-Paxos replica with majority quorums. It starts
// without a leader; the first node whose election timeout expires, or that
// receives a client request while no leader is known, runs phase 1.
func New(env paxi.Env) (paxi.Replica, error) { return NewWithOptions(env, Options{}) }

// Options vary Multi-Paxos; the zero value is classic Multi-Paxos.
type Options struct {
	// Quorums are the phase-1 and phase-2 quorums (Flexible Paxos); the
	// zero value means majorities. The pair must intersect: build it with
	// quorum.NewPair or quorum.FromConfig, which prove it.
	Quorums quorum.Pair
	// Thrifty sends P2a only to a smallest phase-2 quorum, and to the other
	// acceptors only on retransmission.
	Thrifty bool
	// Passive turns off the failure detector's elections: a follower never
	// starts phase 1 because its leader fell silent, and the owner of the
	// replica decides when it campaigns (Campaign). A node that started
	// phase 1 itself still retries it on timeout. WPaxos uses it: an
	// object changes hands when it is accessed, not when it is idle.
	Passive bool
}

// NewWithOptions creates a replica with the given options.
func NewWithOptions(env paxi.Env, opts Options) (*Paxos, error) {
	q := opts.Quorums
	if q.Q1 == nil || q.Q2 == nil {
		maj, err := quorum.Majority(env.Peers())
		if err != nil {
			return nil, fmt.Errorf("paxos: %w", err)
		}
		q = quorum.Pair{Q1: maj, Q2: maj}
	}
	p := &Paxos{
		env:     env,
		cfg:     env.Config(),
		id:      env.ID(),
		peers:   env.Peers(),
		quorum:  q,
		thrifty: opts.Thrifty,
		passive: opts.Passive,
		slot:    -1,
		waiting: make(map[cmdKey]*waiting),
	}
	if !slices.Contains(p.peers, p.id) {
		return nil, fmt.Errorf("paxos: node %v is not in the configuration", p.id)
	}
	if !slices.Equal(q.Q1.Nodes(), p.peers) || !slices.Equal(q.Q2.Nodes(), p.peers) {
		return nil, fmt.Errorf("paxos: quorums %v are not over the cluster's nodes %v", q, p.peers)
	}
	p.q1 = quorum.NewTracker(q.Q1)
	if p.thrifty {
		p.q2peers = p.smallestQ2()
	}
	paxi.Handle(&p.router, p.handleRequest)
	paxi.Handle(&p.router, p.handleP1a)
	paxi.Handle(&p.router, p.handleP1b)
	paxi.Handle(&p.router, p.handleP2a)
	paxi.Handle(&p.router, p.handleP2b)
	paxi.Handle(&p.router, p.handleP3)
	paxi.Handle(&p.router, p.handleHeartbeat)
	paxi.Handle(&p.router, p.handleCatchUp)
	paxi.Handle(&p.router, p.handleTick)
	p.resetElection()
	env.After(time.Duration(p.cfg.Heartbeat), tick{})
	return p, nil
}

// Step implements paxi.Replica.
func (p *Paxos) Step(from paxi.ID, m paxi.Message) error { return p.router.Step(from, m) }

// Ballot returns the replica's current ballot (for tests and status pages).
func (p *Paxos) Ballot() paxi.Ballot { return p.ballot }

// IsLeader reports whether this replica is the active leader.
func (p *Paxos) IsLeader() bool { return p.active }

// Executed returns the number of log slots applied to the store.
func (p *Paxos) Executed() int64 { return p.execute }

// Leader returns the node this replica believes leads (zero if none).
func (p *Paxos) Leader() paxi.ID { return p.ballot.ID() }

// newQ2 returns a phase-2 vote tracker holding this node's own vote.
func (p *Paxos) newQ2() quorum.Tracker {
	t := quorum.NewTracker(p.quorum.Q2)
	t.Ack(p.id)
	return t
}

// resetElection restarts the failure detector with a fresh random timeout
// in [ElectionTimeout, 2*ElectionTimeout).
func (p *Paxos) resetElection() {
	et := time.Duration(p.cfg.ElectionTimeout)
	p.heard = p.env.Now()
	p.deadline = et + time.Duration(p.env.Rand().Int64N(int64(et)))
}

// handleRequest takes a client request: the leader proposes it, a follower
// forwards it to the leader, and a node that knows no leader runs phase 1.
func (p *Paxos) handleRequest(from paxi.ID, r paxi.Request) {
	if r.Node == p.id {
		k := cmdKey{r.Command.ClientID, r.Command.CommandID}
		w := p.waiting[k]
		if w == nil {
			w = &waiting{}
			p.waiting[k] = w
		}
		w.reqs = append(w.reqs, r)
		w.sent = p.env.Now()
	}
	switch {
	case p.active:
		p.pending = append(p.pending, r)
		p.propose()
	case p.ballot.ID() == p.id:
		p.pending = append(p.pending, r) // phase 1 in progress
	case p.ballot != 0:
		p.env.Send(p.ballot.ID(), r)
	default:
		p.pending = append(p.pending, r)
		p.startPhase1()
	}
}

// startPhase1 campaigns with a ballot higher than any seen.
func (p *Paxos) startPhase1() {
	p.ballot = p.ballot.Next(p.id)
	p.active = false
	p.inflight = 0
	p.q1.Reset()
	p.q1.Ack(p.id)
	p.resetElection()
	p.env.Logger().Debug("phase 1", "ballot", p.ballot)
	p.env.Broadcast(P1a{Ballot: p.ballot, Execute: p.execute})
	if p.q1.Result() == quorum.Won {
		p.becomeLeader()
	}
}

// stepDown adopts a higher ballot owned by another node and hands it the
// requests this node has not proposed.
func (p *Paxos) stepDown(b paxi.Ballot) {
	if b <= p.ballot {
		panic(fmt.Sprintf("paxos %v: step down from %v to lower ballot %v", p.id, p.ballot, b))
	}
	if p.active {
		p.env.Logger().Info("leader stepping down", "ballot", p.ballot, "new", b)
	}
	p.ballot = b
	p.active = false
	p.inflight = 0
	p.resetElection()
	if b.ID() == p.id {
		return
	}
	// Hand the new leader what was queued here, and re-send this node's
	// own requests that went to the old leader: they may be lost with it.
	// A write that the old leader did get chosen takes effect only once:
	// the store deduplicates exact repeats by client and command id (a
	// repeated read is simply read again).
	for _, r := range p.pending {
		if r.Node != p.id {
			p.env.Send(b.ID(), r)
		}
	}
	p.pending = nil
	p.resend(func(*waiting) bool { return true })
}

// resend sends this node's waiting requests that pass the filter to the
// leader (or proposes them, when this node leads), in a deterministic order.
func (p *Paxos) resend(filter func(*waiting) bool) {
	var keys []cmdKey
	for k, w := range p.waiting {
		if filter(w) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return
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
		r := w.reqs[len(w.reqs)-1]
		switch {
		case p.active:
			p.pending = append(p.pending, r)
		case p.ballot != 0 && p.ballot.ID() != p.id:
			p.env.Send(p.ballot.ID(), r)
		}
	}
	if p.active {
		p.propose()
	}
}

func (p *Paxos) handleP1a(from paxi.ID, m P1a) {
	if m.Ballot > p.ballot {
		p.stepDown(m.Ballot)
	}
	// An older ballot of the node that owns the current one gets no
	// answer: the rejection would carry the current ballot, which the
	// sender, whose ballot it is, would read as a promise with an empty
	// log. It needs no rejection; the newer ballot is its own. (Nodes that
	// campaign again and again, like WPaxos owners, and late or duplicated
	// messages make this happen.)
	if m.Ballot < p.ballot && m.Ballot.ID() == p.ballot.ID() {
		return
	}
	reply := P1b{Ballot: p.ballot, Slot: p.slot}
	if m.Ballot == p.ballot {
		for s := max(m.Execute, 0); s <= p.slot; s++ {
			if e := p.log.at(s); e != nil {
				reply.Log = append(reply.Log, Entry{Slot: s, Ballot: e.ballot, Commands: e.cmds, Committed: e.committed})
			}
		}
	}
	p.env.Send(from, reply)
}

func (p *Paxos) handleP1b(from paxi.ID, m P1b) {
	if m.Ballot > p.ballot {
		p.stepDown(m.Ballot)
		return
	}
	if m.Ballot < p.ballot || p.active || p.ballot.ID() != p.id {
		return // stale
	}
	if !p.log.valid(m.Slot) || slices.ContainsFunc(m.Log, func(e Entry) bool { return !p.log.valid(e.Slot) || e.Slot < 0 }) {
		p.env.Logger().Warn("P1b with slots out of range ignored", "from", from, "slot", m.Slot)
		return
	}
	p.slot = max(p.slot, m.Slot)
	for _, r := range m.Log {
		p.slot = max(p.slot, r.Slot)
		e := p.log.at(r.Slot)
		switch {
		case e != nil && e.committed:
			if r.Committed { // an uncommitted report may be a value that lost
				p.checkSame(r.Slot, e.cmds, r.Commands, from)
			}
		case r.Committed:
			p.learn(r.Slot, r.Ballot, r.Commands)
		case e == nil || r.Ballot > e.ballot:
			p.accept(r.Slot, r.Ballot, r.Commands)
		}
	}
	p.q1.Ack(from)
	if p.q1.Result() == quorum.Won {
		p.becomeLeader()
	}
	p.exec()
}

// becomeLeader finishes phase 1: every slot the quorum reported is driven to
// commit at the new ballot with the value of the highest ballot seen, holes
// are filled with no-ops (§1.6 fixes 2 and 3), and buffered requests follow.
func (p *Paxos) becomeLeader() {
	p.active = true
	p.commit = max(p.commit, p.execute)
	p.env.Logger().Info("leader", "ballot", p.ballot, "execute", p.execute, "slot", p.slot)
	now := p.env.Now()
	for s := p.execute; s <= p.slot; s++ {
		e := p.log.at(s)
		if e == nil {
			e = &entry{cmds: []paxi.Command{{Op: paxi.Noop}}}
			p.log.set(s, e)
		}
		if e.committed {
			p.env.Broadcast(P3{Ballot: p.ballot, Slot: s, Commands: e.cmds})
			continue
		}
		e.ballot, e.acks, e.sent = p.ballot, p.newQ2(), now
		p.inflight++
		p.sendP2a(P2a{Ballot: p.ballot, Slot: s, Commands: e.cmds})
	}
	p.advanceCommit()
	p.env.Broadcast(Heartbeat{Ballot: p.ballot, Slot: p.slot, Commit: p.commit})
	p.propose()
}

// propose puts buffered requests into new slots while the pipeline has room,
// up to BatchMax commands per slot. Requests that arrive while the pipeline
// is full wait and leave together in one slot: batching adapts to load.
func (p *Paxos) propose() {
	for len(p.pending) > 0 && p.inflight < p.cfg.Pipeline {
		n := min(len(p.pending), p.cfg.BatchMax)
		batch := p.pending[:n]
		cmds := make([]paxi.Command, n)
		for i, r := range batch {
			cmds[i] = r.Command
			if w := p.waiting[cmdKey{r.Command.ClientID, r.Command.CommandID}]; w != nil && r.Node == p.id {
				w.ballot = p.ballot
			}
		}
		p.pending = p.pending[n:]
		if len(p.pending) == 0 {
			p.pending = nil // let the backing array go
		}
		p.slot++
		e := &entry{ballot: p.ballot, cmds: cmds, acks: p.newQ2(), sent: p.env.Now()}
		p.log.set(p.slot, e)
		p.inflight++
		p.sendP2a(P2a{Ballot: p.ballot, Slot: p.slot, Commands: cmds})
		if e.acks.Result() == quorum.Won {
			p.commitSlot(p.slot, e)
		}
	}
}

// sendP2a sends a phase-2 request: to everyone, or in thrifty mode to just
// enough acceptors to make a Q2 with this node.
func (p *Paxos) sendP2a(m P2a) {
	if p.thrifty {
		p.env.Multicast(p.q2peers, m)
		return
	}
	p.env.Broadcast(m)
}

// smallestQ2 returns the fewest peers that, with this node, form a phase-2
// quorum, taking them in ID order starting after this node, so that
// different leaders spread their load.
func (p *Paxos) smallestQ2() []paxi.ID {
	t := quorum.NewTracker(p.quorum.Q2)
	t.Ack(p.id)
	var out []paxi.ID
	i := slices.Index(p.peers, p.id)
	for k := 1; k < len(p.peers) && t.Result() != quorum.Won; k++ {
		id := p.peers[(i+k)%len(p.peers)]
		t.Ack(id)
		out = append(out, id)
	}
	return out
}

// accept records that this node accepted cmds in slot s at ballot b.
func (p *Paxos) accept(s int64, b paxi.Ballot, cmds []paxi.Command) {
	e := p.log.at(s)
	if e == nil {
		p.log.set(s, &entry{ballot: b, cmds: cmds})
		return
	}
	if e.committed {
		panic(fmt.Sprintf("paxos %v: accept into committed slot %d", p.id, s))
	}
	e.ballot, e.cmds = b, cmds
}

// learn marks slot s committed with cmds.
func (p *Paxos) learn(s int64, b paxi.Ballot, cmds []paxi.Command) {
	e := p.log.at(s)
	if e == nil {
		e = &entry{}
		p.log.set(s, e)
	} else if e.committed {
		p.checkSame(s, e.cmds, cmds, 0)
		return
	}
	e.ballot, e.cmds, e.committed = b, cmds, true
}

// checkSame panics if a slot is found committed with two different values:
// the safety property of consensus is broken.
func (p *Paxos) checkSame(s int64, have, got []paxi.Command, from paxi.ID) {
	if len(got) > 0 && !sameCommands(have, got) {
		panic(fmt.Sprintf("paxos %v: slot %d committed as %s, but %v reports %s", p.id, s, paxi.CommandsString(have), from, paxi.CommandsString(got)))
	}
}

func sameCommands(a, b []paxi.Command) bool {
	return slices.EqualFunc(a, b, func(x, y paxi.Command) bool { return x.Op == y.Op && x.Same(y) })
}

func (p *Paxos) handleP2a(from paxi.ID, m P2a) {
	if m.Slot < 0 || !p.log.valid(m.Slot) {
		p.env.Logger().Warn("P2a with slot out of range ignored", "from", from, "slot", m.Slot)
		return
	}
	if m.Ballot < p.ballot {
		// Not to an older ballot of the current ballot's owner, which
		// would count the rejection as an acceptance at its current
		// ballot (see handleP1a).
		if m.Ballot.ID() != p.ballot.ID() {
			p.env.Send(from, P2b{Ballot: p.ballot, Slot: m.Slot}) // reject
		}
		return
	}
	if m.Ballot > p.ballot {
		p.stepDown(m.Ballot)
	}
	p.heard = p.env.Now()
	p.slot = max(p.slot, m.Slot)
	if e := p.log.at(m.Slot); e == nil || !e.committed {
		p.accept(m.Slot, m.Ballot, m.Commands)
	}
	p.env.Send(from, P2b{Ballot: p.ballot, Slot: m.Slot})
}

func (p *Paxos) handleP2b(from paxi.ID, m P2b) {
	if m.Ballot > p.ballot {
		p.stepDown(m.Ballot)
		return
	}
	if m.Ballot < p.ballot || !p.active {
		return
	}
	e := p.log.at(m.Slot)
	if e == nil || e.committed || e.ballot != p.ballot {
		return
	}
	e.acks.Ack(from)
	if e.acks.Result() == quorum.Won {
		p.commitSlot(m.Slot, e)
	}
}

// commitSlot is the leader's commit of slot s: tell everyone, apply what can
// be applied, and refill the pipeline.
func (p *Paxos) commitSlot(s int64, e *entry) {
	e.committed = true
	p.inflight--
	for _, id := range p.peers {
		if id == p.id {
			continue
		}
		if e.acks.Voted(id) {
			p.env.Send(id, P3{Ballot: p.ballot, Slot: s}) // it holds the value
		} else {
			p.env.Send(id, P3{Ballot: p.ballot, Slot: s, Commands: e.cmds})
		}
	}
	p.advanceCommit()
	p.exec()
	p.propose()
}

func (p *Paxos) advanceCommit() {
	for {
		e := p.log.at(p.commit)
		if e == nil || !e.committed {
			return
		}
		p.commit++
	}
}

func (p *Paxos) handleP3(from paxi.ID, m P3) {
	if m.Slot < 0 || !p.log.valid(m.Slot) {
		p.env.Logger().Warn("P3 with slot out of range ignored", "from", from, "slot", m.Slot)
		return
	}
	if m.Ballot > p.ballot {
		p.stepDown(m.Ballot)
	}
	if m.Ballot == p.ballot {
		p.heard = p.env.Now()
	}
	p.slot = max(p.slot, m.Slot)
	e := p.log.at(m.Slot)
	switch {
	case len(m.Commands) > 0:
		p.learn(m.Slot, m.Ballot, m.Commands)
	case e != nil && e.committed:
	case e != nil && e.ballot == m.Ballot:
		e.committed = true
	default:
		p.env.Send(from, CatchUp{From: m.Slot, To: m.Slot})
		return
	}
	p.exec()
}

func (p *Paxos) handleHeartbeat(from paxi.ID, m Heartbeat) {
	if m.Ballot < p.ballot {
		return
	}
	if !p.log.valid(m.Slot) || m.Commit > m.Slot+1 {
		p.env.Logger().Warn("Heartbeat with slots out of range ignored", "from", from, "slot", m.Slot, "commit", m.Commit)
		return
	}
	if m.Ballot > p.ballot {
		p.stepDown(m.Ballot)
	}
	p.heard = p.env.Now()
	p.slot = max(p.slot, m.Slot)
	// Every slot below m.Commit is committed at the leader, and a slot this
	// node accepted at the leader's ballot holds the leader's value, which
	// is the chosen one. Anything else must be fetched.
	missing := int64(-1)
	for s := p.execute; s < m.Commit; s++ {
		e := p.log.at(s)
		switch {
		case e != nil && e.committed:
		case e != nil && e.ballot == m.Ballot:
			e.committed = true
		case missing < 0:
			missing = s
		}
	}
	if missing >= 0 {
		p.env.Send(from, CatchUp{From: missing, To: m.Commit - 1})
	}
	p.exec()
}

// maxCatchUp bounds the slots sent for one CatchUp, so that one lagging
// follower cannot make the leader send its whole log at once.
const maxCatchUp = 1024

func (p *Paxos) handleCatchUp(from paxi.ID, m CatchUp) {
	sent := 0
	for s := max(m.From, 0); s <= m.To && sent < maxCatchUp; s++ {
		if e := p.log.at(s); e != nil && e.committed {
			p.env.Send(from, P3{Ballot: e.ballot, Slot: s, Commands: e.cmds})
			sent++
		}
	}
}

// handleTick runs every heartbeat interval. A leader sends heartbeats and
// retransmits P2a for slots not committed within an election timeout (the
// original Paxi never retransmitted, so one lost message stalled it). Any
// other node starts phase 1 when it has not heard from a leader for its
// election timeout.
func (p *Paxos) handleTick(paxi.ID, tick) {
	p.env.After(time.Duration(p.cfg.Heartbeat), tick{})
	now := p.env.Now()
	if p.active {
		p.env.Broadcast(Heartbeat{Ballot: p.ballot, Slot: p.slot, Commit: p.commit})
		retry := time.Duration(p.cfg.ElectionTimeout) / 2
		for s := p.commit; s <= p.slot; s++ {
			e := p.log.at(s)
			if e == nil || e.committed || now.Sub(e.sent) < retry {
				continue
			}
			e.sent = now
			for _, id := range p.peers {
				if !e.acks.Voted(id) {
					p.env.Send(id, P2a{Ballot: p.ballot, Slot: s, Commands: e.cmds})
				}
			}
		}
		p.resendStale(now)
		return
	}
	if now.Sub(p.heard) >= p.deadline && (!p.passive || p.ballot.ID() == p.id) {
		p.startPhase1()
	}
	p.resendStale(now)
}

// resendStale re-sends this node's requests that have waited two election
// timeouts since they were last sent, unless this node leads and proposed
// them at its current ballot (P2a retransmission covers those).
func (p *Paxos) resendStale(now time.Time) {
	if len(p.waiting) == 0 {
		return
	}
	limit := 2 * time.Duration(p.cfg.ElectionTimeout)
	p.resend(func(w *waiting) bool {
		return now.Sub(w.sent) >= limit && !(p.active && w.ballot == p.ballot)
	})
}

// exec applies committed slots in order and answers the clients whose
// requests this node holds.
func (p *Paxos) exec() {
	for {
		e := p.log.at(p.execute)
		if e == nil || !e.committed {
			return
		}
		for _, c := range e.cmds {
			res := p.env.Store().Apply(c)
			if len(p.waiting) == 0 || c.Op == paxi.Noop {
				continue
			}
			k := cmdKey{c.ClientID, c.CommandID}
			if w := p.waiting[k]; w != nil {
				for _, r := range w.reqs {
					p.env.Reply(r, paxi.NewReply(r, res, p.execute, e.ballot))
				}
				delete(p.waiting, k)
			}
		}
		p.execute++
		if p.active {
			p.advanceCommit()
		}
	}
}
