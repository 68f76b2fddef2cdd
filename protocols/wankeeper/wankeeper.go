package wankeeper

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/quorum"
)

// Protocol is the protocol-table entry for WanKeeper with the default
// options: master zone 1 (or the lowest zone if there is no zone 1), tokens
// granted after 3 commands in a row from one remote zone.
func Protocol() paxi.Protocol { return ProtocolWith(Options{}) }

// ProtocolWith is the protocol-table entry for WanKeeper with the given
// options.
func ProtocolWith(opts Options) paxi.Protocol {
	return paxi.Protocol{
		Name:     "wankeeper",
		New:      func(env paxi.Env) (paxi.Replica, error) { return NewWithOptions(env, opts) },
		Recover:  func(env paxi.Env, d any) (paxi.Replica, error) { return RecoverWithOptions(env, opts, d) },
		Messages: Messages,
		Validate: func(cfg *paxi.Config) error { _, err := opts.resolve(cfg); return err },
		Check:    Check,
	}
}

// Options tune WanKeeper; the zero value is the default.
type Options struct {
	// MasterZone is the zone whose leader is the master (token broker) and
	// whose log holds the token table. 0 means zone 1, or the lowest zone
	// if the configuration has no zone 1.
	MasterZone int
	// Threshold is how many commands in a row the master must execute on a
	// key for one remote zone before it grants that zone the key's token.
	// 0 means 3.
	Threshold int
}

// resolve fills the defaults and checks the options against cfg.
func (o Options) resolve(cfg *paxi.Config) (Options, error) {
	zones := cfg.Zones()
	if len(zones) == 0 {
		return o, errors.New("no zones")
	}
	if o.MasterZone == 0 {
		o.MasterZone = zones[0]
		if slices.Contains(zones, 1) {
			o.MasterZone = 1
		}
	}
	if !slices.Contains(zones, o.MasterZone) {
		return o, fmt.Errorf("master zone %d is not one of the configuration's zones %v", o.MasterZone, zones)
	}
	if o.Threshold == 0 {
		o.Threshold = 3
	}
	if o.Threshold < 1 {
		return o, fmt.Errorf("threshold = %d: must be at least 1", o.Threshold)
	}
	return o, nil
}

// cmdKey names a client command.
type cmdKey struct {
	client string
	id     uint64
}

func keyOf(c paxi.Command) cmdKey { return cmdKey{c.ClientID, c.CommandID} }

// waiting is a client request this node received and has not executed yet.
// The node that received a request answers it when it applies the command
// itself, wherever it was ordered, so it keeps the request until then and
// re-sends it if it waits too long.
type waiting struct {
	reqs []paxi.Request // more than one when a client retried
	sent time.Time
}

// item is a record waiting for room in the zone leader's pipeline, with the
// client request it carries, if any.
type item struct {
	rec Record
	req *paxi.Request
}

// WanKeeper is one WanKeeper replica: an acceptor of its zone's log (and its
// leader, when elected), a learner of every zone's log, and, when it leads
// the master zone, the master.
type WanKeeper struct {
	env       paxi.Env
	cfg       *paxi.Config
	opts      Options
	id        paxi.ID
	zone      int
	master    int
	zones     []int
	zonePeers []paxi.ID // the nodes of this node's zone, sorted
	quorum    quorum.System
	router    paxi.Router

	k *knowledge // durable

	// Own zone leadership (volatile).
	active   bool
	q1       quorum.Tracker
	commit   int64 // leader: every slot below is committed
	inflight int
	queue    []item                    // records waiting for pipeline room
	held     []paxi.Request            // requests held while campaigning
	inlog    map[cmdKey]paxi.Request   // leader: proposed requests, re-routed if bounced
	awaiting map[string][]paxi.Request // leader: requests waiting for a TokenIn proposed here
	wantIn   map[string]uint64         // leader: TokenIn proposed, by key
	wantOut  map[string]uint64         // leader: TokenOut proposed, by key

	// Master duties (volatile; the leader of the master zone).
	queued     map[string][]paxi.Request // requests waiting for their token to come back
	revokeSent map[string]time.Time
	returnSent map[string]time.Time
	grantSent  map[string]time.Time
	grantAsked map[string]time.Time // Grant proposed, by key

	toMaster  []paxi.Request // requests for the master while no master is known
	executing map[int]bool   // zone logs being applied, against re-entry
	waiting   map[cmdKey]*waiting
	heard     time.Time
	deadline  time.Duration
}

// New creates a WanKeeper replica with the default options.
func New(env paxi.Env) (paxi.Replica, error) { return NewWithOptions(env, Options{}) }

// NewWithOptions creates a WanKeeper replica. It starts with no zone leader;
// the first node of a zone whose election timeout expires, or that receives
// a request while its zone has no leader, runs phase 1 in its zone.
func NewWithOptions(env paxi.Env, opts Options) (*WanKeeper, error) {
	cfg := env.Config()
	opts, err := opts.resolve(cfg)
	if err != nil {
		return nil, fmt.Errorf("wankeeper: %w", err)
	}
	id := env.ID()
	if !slices.Contains(env.Peers(), id) {
		return nil, fmt.Errorf("wankeeper: node %v is not in the configuration", id)
	}
	zp := cfg.ZoneNodes(id.Zone())
	q, err := quorum.Majority(zp)
	if err != nil {
		return nil, fmt.Errorf("wankeeper: zone %d: %w", id.Zone(), err)
	}
	w := &WanKeeper{
		env: env, cfg: cfg, opts: opts, id: id,
		zone: id.Zone(), master: opts.MasterZone, zones: cfg.Zones(),
		zonePeers: zp, quorum: q,
		k:         newKnowledge(cfg.Zones()),
		q1:        quorum.NewTracker(q),
		waiting:   map[cmdKey]*waiting{},
		executing: map[int]bool{},
	}
	w.resetVolatile()
	paxi.Handle(&w.router, w.handleRequest)
	paxi.Handle(&w.router, w.handleNewBallot)
	paxi.Handle(&w.router, w.handleVote)
	paxi.Handle(&w.router, w.handleProposal)
	paxi.Handle(&w.router, w.handleAck)
	paxi.Handle(&w.router, w.handleCommit)
	paxi.Handle(&w.router, w.handleHeartbeat)
	paxi.Handle(&w.router, w.handleCatchUp)
	paxi.Handle(&w.router, w.handleRevoke)
	paxi.Handle(&w.router, w.handleToken)
	paxi.Handle(&w.router, w.handleTick)
	w.resetElection()
	env.After(time.Duration(cfg.Heartbeat), tick{})
	return w, nil
}

// resetVolatile forgets the leader's and the master's bookkeeping: on a
// change of leadership nothing of it stays valid.
func (w *WanKeeper) resetVolatile() {
	w.active = false
	w.inflight = 0
	w.queue = nil
	w.inlog = map[cmdKey]paxi.Request{}
	w.awaiting = map[string][]paxi.Request{}
	w.wantIn = map[string]uint64{}
	w.wantOut = map[string]uint64{}
	w.queued = map[string][]paxi.Request{}
	w.revokeSent = map[string]time.Time{}
	w.returnSent = map[string]time.Time{}
	w.grantSent = map[string]time.Time{}
	w.grantAsked = map[string]time.Time{}
}

// Step implements paxi.Replica.
func (w *WanKeeper) Step(from paxi.ID, m paxi.Message) error { return w.router.Step(from, m) }

// Leader returns the master, the leader of the master zone, as this node
// believes (zero if none): the one leader the whole cluster agrees on, for
// status pages, benchmarks and fault schedules ("crash leader").
func (w *WanKeeper) Leader() paxi.ID { return w.leaderOf(w.master) }

// ZoneLeader returns the leader of this node's zone as this node believes
// (zero if none).
func (w *WanKeeper) ZoneLeader() paxi.ID { return w.k.ballot.ID() }

// Ballot returns the node's ballot in its zone.
func (w *WanKeeper) Ballot() paxi.Ballot { return w.k.ballot }

// IsLeader reports whether this node is its zone's active leader.
func (w *WanKeeper) IsLeader() bool { return w.active }

// IsMaster reports whether this node is the master: the active leader of
// the master zone.
func (w *WanKeeper) IsMaster() bool { return w.active && w.zone == w.master }

// Holder returns the zone holding key's token according to the master log
// as this node has applied it, and the token's epoch.
func (w *WanKeeper) Holder(key string) (zone int, epoch uint64) {
	if t := w.k.table[key]; t != nil {
		return t.holder, t.epoch
	}
	return w.master, 0
}

// Holds reports whether zone z holds key's token according to z's log as
// this node has applied it.
func (w *WanKeeper) Holds(z int, key string) bool {
	if z == w.master {
		h, _ := w.Holder(key)
		return h == w.master
	}
	return w.k.holds[z][key] != nil
}

// Applied returns how many commands of key this node has applied (the next
// key slot).
func (w *WanKeeper) Applied(key string) int64 {
	if ks := w.k.keys[key]; ks != nil {
		return ks.next
	}
	return 0
}

// leaderOf returns the node this node believes leads zone z (zero if none).
func (w *WanKeeper) leaderOf(z int) paxi.ID {
	if z == w.zone {
		return w.k.ballot.ID()
	}
	return w.k.logs[z].leader.ID()
}

// resetElection restarts the failure detector with a fresh random timeout
// in [ElectionTimeout, 2*ElectionTimeout).
func (w *WanKeeper) resetElection() {
	et := time.Duration(w.cfg.ElectionTimeout)
	w.heard = w.env.Now()
	w.deadline = et + time.Duration(w.env.Rand().Int64N(int64(et)))
}

// retry is how long a leader waits before it repeats a token message or a
// proposal that has not taken effect.
func (w *WanKeeper) retry() time.Duration { return time.Duration(w.cfg.ElectionTimeout) / 2 }

// handleRequest takes a client request, from a client of this node or
// forwarded by another node.
func (w *WanKeeper) handleRequest(from paxi.ID, r paxi.Request) {
	if r.Node == w.id {
		k := keyOf(r.Command)
		wt := w.waiting[k]
		if wt == nil {
			wt = &waiting{}
			w.waiting[k] = wt
		}
		wt.reqs = append(wt.reqs, r)
		wt.sent = w.env.Now()
	}
	w.route(r)
}

// route sends a request where it can be ordered: the zone leader orders it,
// any other node passes it to its zone leader, and a node whose zone has no
// leader holds it and campaigns.
func (w *WanKeeper) route(r paxi.Request) {
	switch {
	case w.active:
		w.lead(r)
	case w.k.ballot.ID() == w.id:
		w.held = append(w.held, r) // phase 1 in progress
	case w.k.ballot != 0:
		w.env.Send(w.k.ballot.ID(), r)
	default:
		w.held = append(w.held, r)
		w.startPhase1()
	}
}

// lead is the zone leader's decision for a request: order it in the zone's
// log if the zone holds the key's token, wait for a token on its way, or
// pass it to the master. The master queues a request for a token another
// zone holds and revokes the token.
func (w *WanKeeper) lead(r paxi.Request) {
	key := r.Command.Key
	switch {
	case w.Holds(w.zone, key) && w.wantOut[key] == 0:
		w.push(Record{Kind: Cmd, Command: r.Command, Zone: r.Node.Zone()}, &r)
	case w.zone == w.master:
		w.masterRequest(r)
	case w.wantIn[key] != 0:
		w.awaiting[key] = append(w.awaiting[key], r)
	default:
		w.sendToMaster(r)
	}
}

// sendToMaster forwards a request to the master, or keeps it until a master
// is known.
func (w *WanKeeper) sendToMaster(r paxi.Request) {
	if l := w.leaderOf(w.master); l != 0 && l != w.id {
		w.env.Send(l, r)
		return
	}
	w.toMaster = append(w.toMaster, r)
}

// flushToMaster sends the requests kept for the master, once one is known.
func (w *WanKeeper) flushToMaster() {
	if len(w.toMaster) == 0 || w.leaderOf(w.master) == 0 || w.leaderOf(w.master) == w.id {
		return
	}
	rs := w.toMaster
	w.toMaster = nil
	for _, r := range rs {
		w.sendToMaster(r)
	}
}

// handleTick runs every heartbeat interval: the zone leader's heartbeats and
// retransmissions, the master's token duties, failure detection, and
// re-sending of requests that waited too long.
func (w *WanKeeper) handleTick(paxi.ID, tick) {
	w.env.After(time.Duration(w.cfg.Heartbeat), tick{})
	now := w.env.Now()
	if w.active {
		w.env.Broadcast(Heartbeat{Zone: w.zone, Ballot: w.k.ballot, Slot: w.own().slot, Commit: w.commit})
		w.retransmit(now)
		if w.zone == w.master {
			w.masterDuties()
		}
	} else if now.Sub(w.heard) >= w.deadline {
		w.startPhase1()
	}
	w.flushToMaster()
	w.resendStale(now)
}

// resendStale routes again this node's requests that have waited an
// election timeout since they were last sent: the leader or master they
// went to may have failed, or the token moved. A command ordered twice this
// way takes effect once: the store deduplicates writes by client and
// command id, and the reply is sent at the first execution.
func (w *WanKeeper) resendStale(now time.Time) {
	if len(w.waiting) == 0 {
		return
	}
	limit := time.Duration(w.cfg.ElectionTimeout)
	var keys []cmdKey
	for k, wt := range w.waiting {
		if now.Sub(wt.sent) >= limit {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b cmdKey) int {
		if a.client != b.client {
			return strings.Compare(a.client, b.client)
		}
		return cmp.Compare(a.id, b.id)
	})
	for _, k := range keys {
		wt := w.waiting[k]
		wt.sent = now
		w.route(wt.reqs[len(wt.reqs)-1])
	}
}
