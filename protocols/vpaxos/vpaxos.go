package vpaxos

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/paxos"
	"github.com/ailidani/paxi-style/store"
)

// Protocol is the protocol-table entry for Vertical Paxos with the default
// options.
func Protocol() paxi.Protocol { return ProtocolWithOptions(Options{}) }

// ProtocolWithOptions is the protocol-table entry for Vertical Paxos with
// the given options, for tests and experiments that tune the locality
// policy or the configurations.
func ProtocolWithOptions(opts Options) paxi.Protocol {
	return paxi.Protocol{
		Name: "vpaxos",
		New: func(env paxi.Env) (paxi.Replica, error) {
			return NewWithOptions(env, opts)
		},
		Recover: func(env paxi.Env, durable any) (paxi.Replica, error) {
			return RecoverWithOptions(env, durable, opts)
		},
		Messages: append(slices.Clone(Messages), paxos.Messages...),
		Check:    Check,
	}
}

// Options tune Vertical Paxos. The zero value means the defaults.
type Options struct {
	// Backups is how many backups each configuration has besides its
	// primary, taken nearest first (the primary's zone, then the zones
	// nearest by WAN round trip); capped at N-1. Default 2.
	Backups int
	// MasterSize is how many nodes run the configuration master's
	// Multi-Paxos, spread over the zones; capped at N. Default 3.
	MasterSize int
	// MoveAfter is the locality policy: an object's primary hands the
	// object to a node of zone z when its last MoveAfter requests all came
	// from zone z and z is not its own. 0 means the default, 3; a negative
	// value turns migration off.
	MoveAfter int
}

func (o Options) withDefaults(n int) Options {
	if o.Backups <= 0 {
		o.Backups = 2
	}
	o.Backups = min(o.Backups, n-1)
	if o.MasterSize <= 0 {
		o.MasterSize = 3
	}
	o.MasterSize = min(o.MasterSize, n)
	if o.MoveAfter == 0 {
		o.MoveAfter = 3
	}
	return o
}

// reqKey names a client command on an object, for the node that waits to
// answer it.
type reqKey struct {
	key    string
	client string
	id     uint64
}

func (k reqKey) compare(o reqKey) int {
	return cmp.Or(strings.Compare(k.key, o.key), strings.Compare(k.client, o.client), cmp.Compare(k.id, o.id))
}

// waiting is a client request this node received and has not executed yet:
// every node executes every committed command, so the node a client talks
// to answers it when it executes the command, wherever it was ordered.
type waiting struct {
	reqs []paxi.Request // more than one when a client retried
	sent time.Time      // last time it was routed
}

// pendingOp is a MasterOp this node sent and has no reply for yet.
type pendingOp struct {
	op    MasterOp
	sent  time.Time
	tries int
}

// VPaxos is one Vertical Paxos replica. Every node is an acceptor and
// learner of every object, the primary of the objects whose configuration
// names it first, and, if it is one of the master members, a replica of the
// configuration master.
type VPaxos struct {
	env    paxi.Env
	cfg    *paxi.Config
	id     paxi.ID
	peers  []paxi.ID
	opts   Options
	wan    [][]time.Duration
	router paxi.Router

	objects map[string]*object
	keys    []string // objects' keys, sorted, for deterministic walks

	master      *master   // nil unless this node is a master member
	members     []paxi.ID // the master group
	memberOrder []paxi.ID // the master group, nearest first
	memberAt    int       // index in memberOrder of the member ops go to first
	ops         map[uint64]*pendingOp
	waiting     map[reqKey]*waiting
	suspects    map[paxi.ID]time.Time // nodes that did not answer in time, and when
	ticks       uint64
	stats       Stats
}

// Stats counts a node's reconfiguration events, for tests and experiments.
type Stats struct {
	// Activated counts ballots this node led to activation.
	Activated int
	// Fenced counts this node's active ballots ended by a newer one.
	Fenced int
	// Abandoned counts this node's ballots given up before activation.
	Abandoned int
	// Moves counts Move hints this node sent as primary.
	Moves int
	// Takeovers counts objects this node took over from a stuck leader.
	Takeovers int
	// Shrinks counts reconfigurations that left unresponsive members out.
	Shrinks int
}

// Stats returns the node's counters.
func (r *VPaxos) Stats() Stats { return r.stats }

// New creates a Vertical Paxos replica with the default options.
func New(env paxi.Env) (paxi.Replica, error) { return NewWithOptions(env, Options{}) }

// NewWithOptions creates a replica with the given options.
func NewWithOptions(env paxi.Env, opts Options) (*VPaxos, error) {
	return newReplica(env, opts, nil, nil)
}

func newReplica(env paxi.Env, opts Options, masterStore *store.Store, masterDurable any) (*VPaxos, error) {
	cfg := env.Config()
	r := &VPaxos{
		env:      env,
		cfg:      cfg,
		id:       env.ID(),
		peers:    env.Peers(),
		opts:     opts.withDefaults(len(env.Peers())),
		wan:      cfg.WAN.Matrix(),
		objects:  map[string]*object{},
		ops:      map[uint64]*pendingOp{},
		waiting:  map[reqKey]*waiting{},
		suspects: map[paxi.ID]time.Time{},
	}
	if !slices.Contains(r.peers, r.id) {
		return nil, fmt.Errorf("vpaxos: node %v is not in the configuration", r.id)
	}
	r.members = masterMembers(cfg, r.opts.MasterSize)
	r.memberOrder = sortMembers(r.members, r.id, r.wan)
	if slices.Contains(r.members, r.id) {
		m, err := newMaster(env, r.members, masterStore)
		if err != nil {
			return nil, err
		}
		if masterDurable != nil {
			if err := m.inner.Restore(masterDurable); err != nil {
				return nil, fmt.Errorf("vpaxos: master: %w", err)
			}
		}
		r.master = m
	}
	paxi.Handle(&r.router, r.handleRequest)
	paxi.Handle(&r.router, r.handleForward)
	paxi.Handle(&r.router, r.handleMasterOp)
	paxi.Handle(&r.router, r.handleMasterReply)
	paxi.Handle(&r.router, r.handleMove)
	paxi.Handle(&r.router, r.handleP1a)
	paxi.Handle(&r.router, r.handleP1b)
	paxi.Handle(&r.router, r.handleTransfer)
	paxi.Handle(&r.router, r.handleTransferAck)
	paxi.Handle(&r.router, r.handleP2a)
	paxi.Handle(&r.router, r.handleP2b)
	paxi.Handle(&r.router, r.handleP3)
	paxi.Handle(&r.router, r.handleBeat)
	paxi.Handle(&r.router, r.handleCatchUp)
	paxi.Handle(&r.router, r.handleTick)
	env.After(r.heartbeat(), tick{})
	return r, nil
}

// Step implements paxi.Replica: the master's Multi-Paxos messages go to
// the master replica, everything else to this protocol's handlers.
func (r *VPaxos) Step(from paxi.ID, m paxi.Message) error {
	switch m := m.(type) {
	case masterTimer:
		r.masterStep(from, m.m)
	case MasterRequest:
		r.masterStep(from, m.Request)
	case paxos.P1a, paxos.P1b, paxos.P2a, paxos.P2b, paxos.P3, paxos.Heartbeat, paxos.CatchUp:
		r.masterStep(from, m)
	default:
		return r.router.Step(from, m)
	}
	return nil
}

// Timing, all derived from the configuration.
func (r *VPaxos) heartbeat() time.Duration { return time.Duration(r.cfg.Heartbeat) }

// retry is how long a message waits for its answer before it is re-sent.
func (r *VPaxos) retry() time.Duration { return time.Duration(r.cfg.ElectionTimeout) / 2 }

// suspectAfter is how long a member may leave a slot or a transfer
// unacknowledged before the leader reconfigures without it.
func (r *VPaxos) suspectAfter() time.Duration { return time.Duration(r.cfg.ElectionTimeout) }

// suspectFor is how long a suspected node is left out of new
// configurations.
func (r *VPaxos) suspectFor() time.Duration { return 4 * time.Duration(r.cfg.ElectionTimeout) }

// staleAfter is how long a client request may wait at the node that took
// it before that node re-routes it and asks the master who leads.
func (r *VPaxos) staleAfter() time.Duration { return time.Duration(r.cfg.ElectionTimeout) }

// masterRetry is how long a MasterOp waits before it goes to another
// member; longer than the master's own leader failover.
func (r *VPaxos) masterRetry() time.Duration { return 2 * time.Duration(r.cfg.ElectionTimeout) }

// moveDwell is the least time an object stays with a primary before the
// locality policy moves it again.
func (r *VPaxos) moveDwell() time.Duration { return 2 * time.Duration(r.cfg.ElectionTimeout) }

// obj returns the object of key, creating it.
func (r *VPaxos) obj(key string) *object {
	o := r.objects[key]
	if o == nil {
		o = newObject(key)
		r.objects[key] = o
		i, _ := slices.BinarySearch(r.keys, key)
		r.keys = slices.Insert(r.keys, i, key)
	}
	return o
}

// handleRequest takes a client request: the node remembers it, to answer
// when it executes the command, and routes it to the object's primary.
func (r *VPaxos) handleRequest(_ paxi.ID, req paxi.Request) {
	c := req.Command
	if req.Node == r.id {
		k := reqKey{c.Key, c.ClientID, c.CommandID}
		w := r.waiting[k]
		if w == nil {
			w = &waiting{}
			r.waiting[k] = w
		}
		w.reqs = append(w.reqs, req)
		w.sent = r.env.Now()
	}
	r.route(r.obj(c.Key), req)
}

// handleForward takes a request another node routed here, and learns the
// sender's view of who leads.
func (r *VPaxos) handleForward(_ paxi.ID, m Forward) {
	o := r.obj(m.Request.Command.Key)
	r.learnBallot(o, m.Ballot)
	r.route(o, m.Request)
}

// route sends a request where it can be ordered: the active primary (this
// node) proposes it; a leader still setting up its ballot keeps it; any
// other node forwards it to the leader of the highest ballot it knows, or
// asks the master when it knows none. Forwards carry the ballot, and a
// receiver adopts the higher of its own and the sender's, so a request
// never circles: it moves to ever newer ballots until it meets their
// leader.
func (r *VPaxos) route(o *object, req paxi.Request) {
	switch l := o.lead; {
	case l != nil && l.phase == active:
		r.policy(o, req)
		r.propose(o, req)
	case l != nil:
		l.pending = append(l.pending, req)
	case o.view != 0 && o.view.ID() != r.id:
		r.env.Send(o.view.ID(), Forward{Request: req, Ballot: o.view})
	case o.view != 0:
		// This node is named leader but does not lead: it crashed and lost
		// its leadership, or abandoned it. Ask for a ballot after it.
		o.queue = append(o.queue, req)
		r.startLeading(o, o.view)
	default:
		o.queue = append(o.queue, req)
		r.query(o, false)
	}
}

// learnBallot raises the node's view of an object's newest ballot.
func (r *VPaxos) learnBallot(o *object, b paxi.Ballot) {
	if b > o.view {
		o.view = b
	}
}

// query asks the master for an object's record, unless a query is out.
// stale marks queries made because requests waited too long: two stale
// queries in a row that find the same last issued ballot mean its leader is
// not making progress, and this node takes over.
func (r *VPaxos) query(o *object, stale bool) {
	o.stale = o.stale || stale
	if o.query != 0 {
		return
	}
	o.query = r.submitOp(MasterOp{Kind: OpQuery, Key: o.key})
}

// submitOp sends a MasterOp to the nearest master member and returns its
// ID. Replies always arrive as messages, never during this call.
func (r *VPaxos) submitOp(op MasterOp) uint64 {
	for op.ID == 0 || r.ops[op.ID] != nil {
		op.ID = r.env.Rand().Uint64()
	}
	p := &pendingOp{op: op, sent: r.env.Now()}
	r.ops[op.ID] = p
	r.sendOp(p)
	return op.ID
}

// sendOp sends an op to the member that answered last (the nearest at
// first), or, on a retry, to the next one.
func (r *VPaxos) sendOp(p *pendingOp) {
	to := r.memberOrder[(r.memberAt+p.tries)%len(r.memberOrder)]
	if to == r.id {
		r.handleMasterOp(r.id, p.op)
		return
	}
	r.env.Send(to, p.op)
}

// handleMasterOp is a master member taking an op from a node (itself
// included) into the master's Multi-Paxos.
func (r *VPaxos) handleMasterOp(from paxi.ID, m MasterOp) {
	if r.master == nil {
		r.env.Logger().Warn("MasterOp at a node outside the master group ignored", "from", from, "op", m)
		return
	}
	switch m.Kind {
	case OpNewBallot, OpComplete, OpQuery:
	default:
		r.env.Logger().Warn("MasterOp of unknown kind ignored", "from", from, "kind", m.Kind)
		return
	}
	r.sendReplies(r.master.submit(from, m))
}

// masterStep runs the master replica on one of its messages.
func (r *VPaxos) masterStep(from paxi.ID, m paxi.Message) {
	if r.master == nil {
		r.env.Logger().Warn("master message at a node outside the master group ignored", "from", from, "msg", m)
		return
	}
	r.sendReplies(r.master.step(from, m))
}

// sendReplies sends MasterReplies to the nodes that asked, this one
// included: as messages, so that no handler runs inside the master's Step.
func (r *VPaxos) sendReplies(rs []routedReply) {
	for _, rr := range rs {
		r.env.Send(rr.to, rr.rep)
	}
}

// handleMasterReply takes the master's answer to one of this node's ops.
func (r *VPaxos) handleMasterReply(from paxi.ID, m MasterReply) {
	if i := slices.Index(r.memberOrder, from); i >= 0 {
		r.memberAt = i // a live member: send the next ops there
	}
	o := r.obj(m.Key)
	r.learnBallot(o, m.Issued)
	p := r.ops[m.ID]
	if p == nil {
		return // answered already (a retry's duplicate answer)
	}
	delete(r.ops, m.ID)
	switch p.op.Kind {
	case OpNewBallot:
		r.onIssued(o, p.op, m)
	case OpComplete:
		r.onActivated(o, p.op, m)
	case OpQuery:
		r.onQueried(o, p.op, m)
	}
}

// onQueried takes the master's record of an object this node needed to
// route requests for.
func (r *VPaxos) onQueried(o *object, op MasterOp, m MasterReply) {
	if o.query != op.ID {
		return
	}
	o.query = 0
	stale := o.stale
	o.stale = false
	switch {
	case o.lead != nil:
	case m.Issued == 0:
		// Nobody ever led the object: this node takes it.
		r.startLeading(o, 0)
	case stale && m.Issued == o.lastStale && m.Issued.ID() != r.id:
		// Requests are stuck and the master has seen no progress since the
		// last time: the leader of the last issued ballot is presumed dead
		// (or cut off). Take over.
		r.env.Logger().Info("taking over a stuck object", "key", o.key, "from", m.Issued)
		r.suspect(m.Issued.ID())
		r.stats.Takeovers++
		r.startLeading(o, m.Issued)
	}
	if stale {
		o.lastStale = m.Issued
	}
	queue := o.queue
	o.queue = nil
	for _, req := range queue {
		r.route(o, req)
	}
}

// handleMove is the locality policy's hint to become an object's primary.
func (r *VPaxos) handleMove(from paxi.ID, m Move) {
	o := r.obj(m.Key)
	if o.lead != nil || m.Ballot < o.view {
		return // leading already, or the hint is out of date
	}
	r.env.Logger().Debug("moving object here", "key", m.Key, "from", from)
	r.startLeading(o, m.Ballot)
}

// suspect leaves a node out of the configurations this node forms for a
// while.
func (r *VPaxos) suspect(id paxi.ID) {
	if id != r.id {
		r.suspects[id] = r.env.Now()
	}
}

// chooseConfig returns the configuration this node forms as primary: itself
// and the nearest Backups nodes it does not suspect.
func (r *VPaxos) chooseConfig() Configuration {
	now := r.env.Now()
	var cands []paxi.ID
	for _, id := range r.peers {
		if t, ok := r.suspects[id]; id == r.id || (ok && now.Sub(t) < r.suspectFor()) {
			continue
		}
		cands = append(cands, id)
	}
	cands = sortMembers(cands, r.id, r.wan)
	c := Configuration{r.id}
	return append(c, cands[:min(len(cands), r.opts.Backups)]...)
}

// handleTick runs every heartbeat interval: master op retries, the
// leaders' timeouts and retransmissions, re-routing of requests that
// waited too long, and beats.
func (r *VPaxos) handleTick(paxi.ID, tick) {
	r.env.After(r.heartbeat(), tick{})
	r.ticks++
	now := r.env.Now()
	if len(r.ops) > 0 {
		ids := make([]uint64, 0, len(r.ops))
		for id, p := range r.ops {
			if now.Sub(p.sent) >= r.masterRetry() {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			p := r.ops[id]
			// The member did not answer in time: suspect it, and send this
			// and later ops to the next one.
			if to := r.memberOrder[(r.memberAt+p.tries)%len(r.memberOrder)]; to != r.id {
				r.suspect(to)
				if p.tries == 0 {
					r.memberAt = (r.memberAt + 1) % len(r.memberOrder)
					p.tries--
				}
			}
			p.tries++
			p.sent = now
			r.sendOp(p)
		}
	}
	for _, k := range r.keys {
		if o := r.objects[k]; o.lead != nil {
			r.leaderTick(o, now)
		}
	}
	r.resendStale(now)
	r.beat(now)
}

// resendStale re-routes the requests this node took that have waited
// staleAfter, and asks the master about their objects.
func (r *VPaxos) resendStale(now time.Time) {
	if len(r.waiting) == 0 {
		return
	}
	var stale []reqKey
	for k, w := range r.waiting {
		if now.Sub(w.sent) >= r.staleAfter() {
			stale = append(stale, k)
		}
	}
	slices.SortFunc(stale, reqKey.compare)
	for _, k := range stale {
		w := r.waiting[k]
		w.sent = now
		o := r.obj(k.key)
		switch {
		case o.lead != nil && o.lead.phase != active:
			// This node is setting up a ballot: the request waits in its
			// pending list, or comes back to it; re-sent once it is active.
		case o.lead == nil && o.view == 0 && o.query != 0:
			// Queued here for the master's answer, and nowhere else.
			o.stale = true
		default:
			if o.lead == nil {
				r.query(o, true)
			}
			r.route(o, w.reqs[len(w.reqs)-1])
		}
	}
}

// Primary reports whether this node is the active primary of key, and if
// so its ballot and configuration.
func (r *VPaxos) Primary(key string) (paxi.Ballot, Configuration, bool) {
	o := r.objects[key]
	if o == nil || o.lead == nil || o.lead.phase != active {
		return 0, nil, false
	}
	return o.lead.ballot, slices.Clone(o.lead.cfg), true
}

// IsMasterLeader reports whether this node leads the configuration
// master's Multi-Paxos.
func (r *VPaxos) IsMasterLeader() bool { return r.master != nil && r.master.inner.IsLeader() }
