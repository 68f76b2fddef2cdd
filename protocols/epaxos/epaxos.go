package epaxos

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/quorum"
	"github.com/ailidani/paxi-style/store"
)

// Protocol is the protocol-table entry for EPaxos.
func Protocol() paxi.Protocol {
	return paxi.Protocol{Name: "epaxos", New: New, Recover: Recover, Messages: Messages, Check: check}
}

// check adapts CheckAgreement to paxi.Protocol.Check.
func check(replicas map[paxi.ID]paxi.Replica) error {
	rs := make(map[paxi.ID]*EPaxos, len(replicas))
	for id, r := range replicas {
		e, ok := r.(*EPaxos)
		if !ok {
			return fmt.Errorf("epaxos: replica %v is a %T", id, r)
		}
		rs[id] = e
	}
	return CheckAgreement(rs)
}

// cmdKey names a client command for routing its reply.
type cmdKey struct {
	client string
	id     uint64
}

// maxCatchUp bounds the Commit messages sent for one CatchUp.
const maxCatchUp = 64

// EPaxos is one EPaxos replica: command leader for the requests its clients
// send it, acceptor for everyone's instances, recoverer of instances that
// are stuck, and executor of the committed dependency graph.
type EPaxos struct {
	env    paxi.Env
	cfg    *paxi.Config
	id     paxi.ID
	peers  []paxi.ID
	self   int // index of id in peers
	n      int
	router paxi.Router

	majority quorum.System
	fast     quorum.System
	fq       int // fast quorum size, N-1 (at least a majority)
	need     int // original pre-accepts a recovery quorum without the leader must show (see doc.go)

	rows         [][]*instance // rows[q][i] is instance q.i
	committedTo  []int64       // per row: every instance up to it is committed
	maxCommitted []int64       // per row: highest committed instance
	executedTo   []int64       // per row: every instance up to it is executed
	execCount    uint64

	// Conflict tables: per row and key the highest instance touching
	// (lastAny) or writing (lastWrite) the key; per key the highest seq of
	// an instance touching (seqAny) or writing (seqWrite) it.
	lastAny, lastWrite []map[string]int64
	seqAny, seqWrite   map[string]uint64

	uncommitted map[InstanceID]*instance // instances known here and not committed
	pending     []paxi.Command           // client commands not yet proposed
	inflight    int                      // own instances proposed and not committed or taken over
	proposing   bool
	waiting     map[cmdKey][]paxi.Request // requests received here, not yet executed
	dirty       bool                      // something was committed: run the executor
	pass        uint64                    // executor pass, for Tarjan bookkeeping
	lastCatchUp []time.Time               // per row: last CatchUp sent
	stats       Stats
}

// Stats counts what a replica did, for tests and reports.
type Stats struct {
	// FastPath and SlowPath count own instances committed after phase 1
	// alone and after the Accept phase.
	FastPath, SlowPath uint64
	// Recoveries counts explicit Prepares started; the next four how they
	// ended: Accept of an accepted value, Accept of the original
	// pre-accepted attributes (a possible fast commit), phase 1 restarted,
	// no-op.
	Recoveries, RecoveredAccepted, RecoveredOriginal, RecoveredRestart, RecoveredNoop uint64
	// Executed counts executed instances.
	Executed uint64
}

// Stats returns the replica's counters.
func (e *EPaxos) Stats() Stats { s := e.stats; s.Executed = e.execCount; return s }

// New creates an EPaxos replica over the configuration's nodes.
func New(env paxi.Env) (paxi.Replica, error) { return newEPaxos(env) }

func newEPaxos(env paxi.Env) (*EPaxos, error) {
	peers := env.Peers()
	e := &EPaxos{
		env:         env,
		cfg:         env.Config(),
		id:          env.ID(),
		peers:       peers,
		n:           len(peers),
		seqAny:      make(map[string]uint64),
		seqWrite:    make(map[string]uint64),
		uncommitted: make(map[InstanceID]*instance),
		waiting:     make(map[cmdKey][]paxi.Request),
	}
	self, ok := slices.BinarySearch(peers, e.id)
	if !ok {
		return nil, fmt.Errorf("epaxos: node %v is not in the configuration", e.id)
	}
	e.self = self
	maj, err := quorum.Majority(peers)
	if err != nil {
		return nil, fmt.Errorf("epaxos: %w", err)
	}
	q := e.n/2 + 1
	e.fq = max(e.n-1, q)
	fast, err := quorum.Fast(peers, e.fq)
	if err != nil {
		return nil, fmt.Errorf("epaxos: %w", err)
	}
	e.majority, e.fast = maj, fast
	// A recovery quorum (a majority) that excludes the command leader holds
	// at least fq-1 - (n-1-q) members of any fast quorum containing it.
	e.need = e.fq + q - e.n
	e.rows = make([][]*instance, e.n)
	e.committedTo = fill(e.n, -1)
	e.maxCommitted = fill(e.n, -1)
	e.executedTo = fill(e.n, -1)
	e.lastCatchUp = make([]time.Time, e.n)
	e.lastAny = make([]map[string]int64, e.n)
	e.lastWrite = make([]map[string]int64, e.n)
	for q := range e.n {
		e.lastAny[q] = make(map[string]int64)
		e.lastWrite[q] = make(map[string]int64)
	}
	paxi.Handle(&e.router, e.handleRequest)
	paxi.Handle(&e.router, e.handlePreAccept)
	paxi.Handle(&e.router, e.handlePreAcceptOK)
	paxi.Handle(&e.router, e.handleAccept)
	paxi.Handle(&e.router, e.handleAcceptOK)
	paxi.Handle(&e.router, e.handleCommit)
	paxi.Handle(&e.router, e.handlePrepare)
	paxi.Handle(&e.router, e.handlePrepareOK)
	paxi.Handle(&e.router, e.handleNack)
	paxi.Handle(&e.router, e.handleHeartbeat)
	paxi.Handle(&e.router, e.handleCatchUp)
	paxi.Handle(&e.router, e.handleTick)
	paxi.Handle(&e.router, e.handleFastTimeout)
	env.After(e.heartbeat(), tick{})
	return e, nil
}

func fill(n int, v int64) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// Step implements paxi.Replica. After every message it proposes what
// clients sent, if the pipeline has room, and executes what became
// executable.
func (e *EPaxos) Step(from paxi.ID, m paxi.Message) error {
	err := e.router.Step(from, m)
	e.flush()
	return err
}

func (e *EPaxos) flush() {
	e.propose()
	for e.dirty {
		e.dirty = false
		e.execute()
	}
}

// Timing, derived from the configuration.

func (e *EPaxos) heartbeat() time.Duration {
	return max(time.Duration(e.cfg.Heartbeat), time.Millisecond)
}

// retry is how long a leader waits for answers before it re-sends its
// phase's message to the replicas that did not answer.
func (e *EPaxos) retry() time.Duration { return 2 * e.heartbeat() }

// recoverAfter is how long an instance the executor needs may stay
// uncommitted, with nobody here driving it, before this replica recovers it;
// staleAfter the same for an instance nobody here needs (its leader probably
// failed).
func (e *EPaxos) recoverAfter() time.Duration {
	return max(time.Duration(e.cfg.ElectionTimeout)/2, 2*e.retry())
}
func (e *EPaxos) staleAfter() time.Duration { return 4 * e.recoverAfter() }

// touch notes progress on an uncommitted instance: its recovery timeout
// starts again, with fresh jitter so that replicas rarely recover the same
// instance at once.
func (e *EPaxos) touch(inst *instance) {
	if inst.status == Committed {
		return
	}
	inst.since = e.env.Now()
	inst.jitter = time.Duration(e.env.Rand().Int64N(int64(e.recoverAfter())))
	if !inst.tracked {
		inst.tracked = true
		e.uncommitted[inst.id(e.peers)] = inst
	}
}

// handleRequest takes a client request. Requests are never forwarded: the
// receiving replica is the command leader, and it answers when it has
// executed the command.
func (e *EPaxos) handleRequest(from paxi.ID, r paxi.Request) {
	if r.Node != e.id {
		e.env.Logger().Warn("request for another node ignored", "from", from, "node", r.Node)
		return
	}
	if !validCmds([]paxi.Command{r.Command}) {
		rep := paxi.NewReply(r, store.Result{}, -1, 0)
		rep.Err = fmt.Sprintf("epaxos: unknown operation %v", r.Command.Op)
		e.env.Reply(r, rep)
		return
	}
	k := cmdKey{r.Command.ClientID, r.Command.CommandID}
	e.waiting[k] = append(e.waiting[k], r)
	e.pending = append(e.pending, r.Command)
}

// propose starts new own instances for pending client commands while fewer
// than Pipeline own instances are in flight, up to BatchMax commands each.
// Commands that arrive while the pipeline is full wait and leave together:
// batching adapts to load.
func (e *EPaxos) propose() {
	if e.proposing {
		return
	}
	e.proposing = true
	defer func() { e.proposing = false }()
	for len(e.pending) > 0 && e.inflight < max(e.cfg.Pipeline, 1) {
		n := min(len(e.pending), max(e.cfg.BatchMax, 1))
		cmds := slices.Clone(e.pending[:n])
		e.pending = e.pending[n:]
		if len(e.pending) == 0 {
			e.pending = nil
		}
		e.proposeInstance(cmds)
	}
}

// proposeInstance is phase 1 at the command leader: the next own instance,
// attributes from the local conflict tables, PreAccept to every replica.
func (e *EPaxos) proposeInstance(cmds []paxi.Command) {
	num := int64(len(e.rows[e.self]))
	inst := e.get(e.self, num)
	b := e.initial(e.self)
	a := e.localAttrs(e.self, num, cmds)
	inst.status, inst.cmds, inst.seq, inst.deps = PreAccepted, cmds, a.seq, a.deps
	inst.bal, inst.vbal, inst.original = b, b, true
	inst.proposal, inst.counted = cmds, true
	e.inflight++
	e.learn(inst)
	e.touch(inst)
	l := e.newLead(b, phasePreAccept)
	l.orig, l.merged = a, a
	l.same.Ack(e.id)
	inst.lead = l
	e.env.Broadcast(PreAccept{Ballot: b, Replica: e.id, Instance: num, Cmds: cmds, Seq: a.seq, Deps: a.deps})
	e.checkPreAccept(inst)
}

// newLead returns the state of driving an instance at ballot b, holding
// this replica's own vote.
func (e *EPaxos) newLead(b paxi.Ballot, p phase) *lead {
	now := e.env.Now()
	l := &lead{ballot: b, phase: p, votes: quorum.NewTracker(e.majority), same: quorum.NewTracker(e.fast), sent: now, started: now}
	l.votes.Ack(e.id)
	return l
}

// raise records a promise of ballot b for inst. A replica that drives the
// instance at a lower ballot stops: someone else took it over.
func (e *EPaxos) raise(inst *instance, b paxi.Ballot) {
	if b > inst.bal {
		inst.bal = b
	}
	if inst.lead != nil && inst.lead.ballot < b {
		e.abandon(inst)
	}
}

// abandon stops driving inst. The instance leaves the pipeline count, and
// its recovery timeout starts again, so this replica backs off before it
// competes for the instance.
func (e *EPaxos) abandon(inst *instance) {
	e.env.Logger().Debug("instance taken over", "instance", inst.id(e.peers).String(), "ballot", inst.lead.ballot, "promised", inst.bal)
	inst.lead = nil
	if inst.counted {
		inst.counted = false
		e.inflight--
	}
	e.touch(inst)
}

// commit records that inst is decided with cmds and attributes a. It
// broadcasts the decision if bcast is set (this replica decided it). A
// decision that differs from one already recorded breaks agreement, the
// safety property of consensus: it panics.
func (e *EPaxos) commit(inst *instance, cmds []paxi.Command, a attrs, bcast bool) {
	if inst.status == Committed {
		if !sameCmds(inst.cmds, cmds) || !inst.attrs().equal(a) {
			panic(fmt.Sprintf("epaxos %v: instance %v committed as seq=%d deps=%v %s, now as seq=%d deps=%v %s",
				e.id, inst.id(e.peers), inst.seq, depsString(inst.deps), paxi.CommandsString(inst.cmds), a.seq, depsString(a.deps), paxi.CommandsString(cmds)))
		}
		return
	}
	inst.status, inst.cmds, inst.seq, inst.deps = Committed, cmds, a.seq, a.deps
	inst.original, inst.lead, inst.needed, inst.keys = false, nil, false, nil
	if inst.counted {
		inst.counted = false
		e.inflight--
	}
	if inst.tracked {
		inst.tracked = false
		delete(e.uncommitted, inst.id(e.peers))
	}
	e.learn(inst)
	r := inst.row
	e.maxCommitted[r] = max(e.maxCommitted[r], inst.num)
	for {
		next := e.at(r, e.committedTo[r]+1)
		if next == nil || next.status != Committed {
			break
		}
		e.committedTo[r]++
	}
	if bcast {
		e.env.Broadcast(e.commitMsg(inst))
	}
	if inst.proposal != nil {
		if !sameCmds(inst.proposal, cmds) {
			// A recoverer committed a no-op in our instance: propose the
			// commands whose clients still wait again, in a new instance.
			for _, c := range inst.proposal {
				if _, ok := e.waiting[cmdKey{c.ClientID, c.CommandID}]; ok {
					e.pending = append(e.pending, c)
				}
			}
		}
		inst.proposal = nil
	}
	e.dirty = true
}

func (e *EPaxos) commitMsg(inst *instance) Commit {
	return Commit{Replica: e.peers[inst.row], Instance: inst.num, Cmds: inst.cmds, Seq: inst.seq, Deps: inst.deps}
}

// handleTick runs every heartbeat interval: it sends a Heartbeat, re-sends
// the current phase's message of every instance this replica drives that
// has not advanced for a retry interval, and recovers the instances that
// have been stuck too long with nobody here driving them.
func (e *EPaxos) handleTick(paxi.ID, tick) {
	e.env.After(e.heartbeat(), tick{})
	e.env.Broadcast(Heartbeat{Committed: slices.Clone(e.committedTo), Max: slices.Clone(e.maxCommitted)})
	if len(e.uncommitted) == 0 {
		return
	}
	now := e.env.Now()
	ids := make([]InstanceID, 0, len(e.uncommitted))
	for id := range e.uncommitted {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b InstanceID) int {
		return cmp.Or(cmp.Compare(a.Replica, b.Replica), cmp.Compare(a.Instance, b.Instance))
	})
	for _, id := range ids {
		inst := e.uncommitted[id]
		if inst == nil || inst.status == Committed {
			continue
		}
		if l := inst.lead; l != nil {
			if now.Sub(l.sent) >= e.retry() {
				e.retransmit(inst)
			}
			continue
		}
		wait := e.staleAfter()
		if inst.needed {
			wait = e.recoverAfter()
		}
		if now.Sub(inst.since) >= wait+inst.jitter {
			e.startRecovery(inst)
		}
	}
}

// retransmit re-sends the current phase's message of an instance this
// replica drives to the replicas that have not answered.
func (e *EPaxos) retransmit(inst *instance) {
	l := inst.lead
	l.sent = e.env.Now()
	r, num := e.peers[inst.row], inst.num
	var m paxi.Message
	switch l.phase {
	case phasePrepare:
		m = Prepare{Ballot: l.ballot, Replica: r, Instance: num}
	case phasePreAccept:
		m = PreAccept{Ballot: l.ballot, Replica: r, Instance: num, Cmds: inst.cmds, Seq: l.orig.seq, Deps: l.orig.deps}
	case phaseAccept:
		m = Accept{Ballot: l.ballot, Replica: r, Instance: num, Cmds: inst.cmds, Seq: inst.seq, Deps: inst.deps}
	}
	for _, id := range e.peers {
		if id != e.id && !l.votes.Voted(id) {
			e.env.Send(id, m)
		}
	}
}

// handleHeartbeat compares a peer's committed instances with this
// replica's and asks for what is missing: first the peer's committed
// prefix, then instances above everything committed here. Holes in between
// are found by the executor, which recovers them (a Prepare is answered with
// the commit by any replica that has it).
func (e *EPaxos) handleHeartbeat(from paxi.ID, m Heartbeat) {
	if _, ok := e.index(from); !ok || len(m.Committed) != e.n || len(m.Max) != e.n {
		e.env.Logger().Warn("malformed Heartbeat ignored", "from", from)
		return
	}
	now := e.env.Now()
	for q := range e.n {
		if m.Committed[q] < -1 || m.Max[q] < m.Committed[q] || (m.Max[q] >= 0 && !e.validNum(q, m.Max[q])) {
			e.env.Logger().Warn("Heartbeat with instances out of range ignored", "from", from, "row", e.peers[q])
			return
		}
		if now.Sub(e.lastCatchUp[q]) < e.retry() && !e.lastCatchUp[q].IsZero() {
			continue
		}
		var lo, hi int64
		switch {
		case m.Committed[q] > e.committedTo[q]:
			lo, hi = e.committedTo[q]+1, m.Committed[q]
		case m.Max[q] > e.maxCommitted[q]:
			lo, hi = e.maxCommitted[q]+1, m.Max[q]
		default:
			continue
		}
		e.lastCatchUp[q] = now
		e.env.Send(from, CatchUp{Replica: e.peers[q], From: lo, To: min(hi, lo+maxCatchUp-1)})
	}
}

func (e *EPaxos) handleCatchUp(from paxi.ID, m CatchUp) {
	r, ok := e.index(m.Replica)
	if _, known := e.index(from); !ok || !known || m.From < 0 || m.To < m.From {
		e.env.Logger().Warn("malformed CatchUp ignored", "from", from, "msg", m.String())
		return
	}
	sent := 0
	for j := m.From; j <= m.To && sent < maxCatchUp; j++ {
		inst := e.at(r, j)
		if inst == nil {
			if j >= int64(len(e.rows[r])) {
				break
			}
			continue
		}
		if inst.status == Committed {
			e.env.Send(from, e.commitMsg(inst))
			sent++
		}
	}
}

// String summarises the replica's state, for logs and test failures.
func (e *EPaxos) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "epaxos %v: committed=%v max=%v executed=%v inflight=%d pending=%d uncommitted=%d",
		e.id, depsString(e.committedTo), depsString(e.maxCommitted), depsString(e.executedTo), e.inflight, len(e.pending), len(e.uncommitted))
	return b.String()
}
