package wpaxos

import (
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/paxos"
	"github.com/ailidani/paxi-style/quorum"
)

// Protocol is the protocol-table entry for WPaxos.
func Protocol() paxi.Protocol {
	return paxi.Protocol{
		Name:     "wpaxos",
		New:      New,
		Recover:  Recover,
		Messages: Messages,
		Validate: Validate,
		Check:    Check,
	}
}

// maxHops is how many times a request may be forwarded before it is
// dropped; the node its client waits at re-sends it or takes the object
// over when it waits too long.
const maxHops = 8

// instance is one object's Paxos instance on this node, with the node's
// bookkeeping for it.
type instance struct {
	key string
	p   *paxos.Paxos
	log *slog.Logger // the node's logger with the key, made on first use

	// Requests of this node's clients for the object not answered yet, and
	// when the object last made progress for them (an answer, or the first
	// request). If they wait longer than stealAfter, the owner is presumed
	// gone and this node takes the object over.
	waiting    int
	progress   time.Time
	stealAfter time.Duration

	// When the object's ballot last changed, and how long the immediate
	// policy waits after that before it steals (randomised back-off).
	changed time.Time
	backoff time.Duration

	policy policyState

	// Owner's heartbeat suppression (keyEnv.Broadcast).
	hbLast             paxos.Heartbeat
	hbEvery, hbSkipped int
}

// WPaxos is one WPaxos node: a Paxos instance per object, made on the
// object's first message, all sharing the node's Env through keyEnv.
type WPaxos struct {
	env    paxi.Env
	cfg    *paxi.Config
	id     paxi.ID
	peers  []paxi.ID
	opts   paxos.Options
	policy string
	limit  int // consecutive policy's threshold
	router paxi.Router

	objects map[string]*instance
	busy    map[string]*instance // objects with requests of this node's clients waiting
	timers  []timer              // the objects' timers, in the order set
	spare   []timer              // the previous tick's list, reused
	hops    int                  // Hops of the Forward being handled (0: none)

	nextTimer paxi.TimerID
}

// options builds the Paxos options of every object: the flexible grid
// quorums for the configured fz, and no elections on silence.
func options(cfg *paxi.Config) (paxos.Options, error) {
	q1, q2, err := quorum.FGrid(cfg.IDs(), cfg.WPaxos.FZ)
	if err != nil {
		return paxos.Options{}, err
	}
	return paxos.Options{Quorums: quorum.Pair{Q1: q1, Q2: q2}, Passive: true}, nil
}

// Validate checks the WPaxos section of the configuration against the
// cluster: fz must leave at least one zone for phase 1 (fz < zones).
func Validate(cfg *paxi.Config) error {
	if _, err := options(cfg); err != nil {
		return fmt.Errorf("wpaxos.fz = %d with zones %v: %w", cfg.WPaxos.FZ, cfg.Zones(), err)
	}
	return nil
}

// New creates a WPaxos node.
func New(env paxi.Env) (paxi.Replica, error) { return newWPaxos(env) }

func newWPaxos(env paxi.Env) (*WPaxos, error) {
	cfg := env.Config()
	opts, err := options(cfg)
	if err != nil {
		return nil, fmt.Errorf("wpaxos: %w", err)
	}
	w := &WPaxos{
		env:     env,
		cfg:     cfg,
		id:      env.ID(),
		peers:   env.Peers(),
		opts:    opts,
		policy:  cfg.WPaxos.PolicyName(),
		limit:   cfg.WPaxos.ThresholdValue(),
		objects: make(map[string]*instance),
		busy:    make(map[string]*instance),
	}
	if !slices.Contains(w.peers, w.id) {
		return nil, fmt.Errorf("wpaxos: node %v is not in the configuration", w.id)
	}
	paxi.Handle(&w.router, w.handleRequest)
	paxi.Handle(&w.router, w.handleForward)
	paxi.Handle(&w.router, func(from paxi.ID, m Prepare) { w.deliver(from, m.Key, m.P1a) })
	paxi.Handle(&w.router, func(from paxi.ID, m Promise) { w.deliver(from, m.Key, m.P1b) })
	paxi.Handle(&w.router, func(from paxi.ID, m Accept) { w.deliver(from, m.Key, m.P2a) })
	paxi.Handle(&w.router, func(from paxi.ID, m Accepted) { w.deliver(from, m.Key, m.P2b) })
	paxi.Handle(&w.router, func(from paxi.ID, m Commit) { w.deliver(from, m.Key, m.P3) })
	paxi.Handle(&w.router, func(from paxi.ID, m Heartbeat) { w.deliver(from, m.Key, m.Heartbeat) })
	paxi.Handle(&w.router, func(from paxi.ID, m CatchUp) { w.deliver(from, m.Key, m.CatchUp) })
	paxi.Handle(&w.router, w.handleLeaderChange)
	paxi.Handle(&w.router, w.handleTick)
	env.After(time.Duration(cfg.Heartbeat), tick{})
	return w, nil
}

// Step implements paxi.Replica.
func (w *WPaxos) Step(from paxi.ID, m paxi.Message) error { return w.router.Step(from, m) }

// Owner returns the node this replica believes owns the object: the owner
// of the highest ballot it has seen for it (0: none, or never heard of).
func (w *WPaxos) Owner(key string) paxi.ID {
	if in := w.objects[key]; in != nil {
		return in.p.Leader()
	}
	return 0
}

// Leads reports whether this node owns the object and has completed phase
// 1 for it.
func (w *WPaxos) Leads(key string) bool {
	in := w.objects[key]
	return in != nil && in.p.IsLeader()
}

// Ballot returns this replica's ballot for the object (0: none).
func (w *WPaxos) Ballot(key string) paxi.Ballot {
	if in := w.objects[key]; in != nil {
		return in.p.Ballot()
	}
	return 0
}

// Objects returns the number of objects this node holds state for.
func (w *WPaxos) Objects() int { return len(w.objects) }

// object returns the object's instance, making it on first use.
func (w *WPaxos) object(key string) *instance {
	if in := w.objects[key]; in != nil {
		return in
	}
	in := &instance{key: key}
	p, err := paxos.NewWithOptions(keyEnv{w: w, in: in}, w.opts)
	if err != nil {
		// The options were built for this node's configuration in New.
		panic(fmt.Sprintf("wpaxos %v: object %q: %v", w.id, key, err))
	}
	in.p = p
	w.objects[key] = in
	return in
}

// step hands m to the object's instance and notes a change of ballot: the
// immediate policy backs off after one, and the consecutive policy starts
// counting afresh.
func (w *WPaxos) step(in *instance, from paxi.ID, m paxi.Message) {
	before := in.p.Ballot()
	if err := in.p.Step(from, m); err != nil {
		panic(fmt.Sprintf("wpaxos %v: object %q: %v", w.id, in.key, err))
	}
	w.noteBallot(in, before)
}

// noteBallot records that the object's ballot may have moved from before.
func (w *WPaxos) noteBallot(in *instance, before paxi.Ballot) {
	if in.p.Ballot() == before {
		return
	}
	in.changed = w.env.Now()
	et := time.Duration(w.cfg.ElectionTimeout)
	in.backoff = et/2 + time.Duration(w.env.Rand().Int64N(int64(et/2)))
	in.policy = policyState{}
}

// deliver hands a wrapped Paxos message to its object's instance.
func (w *WPaxos) deliver(from paxi.ID, key string, m paxi.Message) {
	w.step(w.object(key), from, m)
}

// leads reports whether this node owns the object or is taking it over.
func (w *WPaxos) leads(in *instance) bool { return in.p.Ballot().ID() == w.id }

// campaign starts phase 1 for the object (a steal).
func (w *WPaxos) campaign(in *instance, why string) {
	before := in.p.Ballot()
	if in.p.Campaign() {
		w.env.Logger().Debug("steal", "key", in.key, "why", why, "from", before)
	}
	w.noteBallot(in, before)
}

// handleRequest takes a request from a client of this node.
func (w *WPaxos) handleRequest(_ paxi.ID, r paxi.Request) { w.request(r, 0) }

// handleForward takes a request another node forwarded here. A request of
// this node's own client that comes back (the object was being taken over
// by this node when it went out) is dropped: it waits in the instance
// already, which proposes it once this node owns the object or sends it to
// whoever does.
func (w *WPaxos) handleForward(from paxi.ID, m Forward) {
	if m.Request.Node == w.id {
		return
	}
	if m.Hops > maxHops {
		w.env.Logger().Warn("request dropped after too many forwards", "key", m.Request.Command.Key, "hops", m.Hops, "from", from)
		return
	}
	w.request(m.Request, m.Hops)
}

// request routes a client request to its object's instance: the owner
// proposes it, a node taking the object over queues it, anyone else
// forwards it to the owner it knows (Paxos does all three). Before that the
// immediate policy may steal the object for a local client; after it the
// owner's migration policy may hand the object to the request's zone.
func (w *WPaxos) request(r paxi.Request, hops int) {
	in := w.object(r.Command.Key)
	now := w.env.Now()
	if r.Node == w.id {
		if in.waiting == 0 {
			in.progress = now
			et := time.Duration(w.cfg.ElectionTimeout)
			in.stealAfter = et + time.Duration(w.env.Rand().Int64N(int64(et)))
			w.busy[in.key] = in
		}
		in.waiting++
		if w.policy == paxi.WPaxosImmediate && in.p.Ballot() != 0 && !w.leads(in) && now.Sub(in.changed) >= in.backoff {
			w.campaign(in, "access")
		}
	}
	w.hops = hops
	w.step(in, w.id, r)
	w.hops = 0
	if in.p.IsLeader() {
		w.observe(in, r)
	}
}

// answered notes that a request of this node's client for the object was
// answered.
func (w *WPaxos) answered(in *instance) {
	if in.waiting == 0 {
		return // answered twice (a client retried under one command id)
	}
	in.waiting--
	in.progress = w.env.Now()
	if in.waiting == 0 {
		delete(w.busy, in.key)
	}
}

// handleLeaderChange takes the object over if the hint is current: it is
// addressed here and the object's ballot here is still the one the owner
// had when it sent it.
func (w *WPaxos) handleLeaderChange(from paxi.ID, m LeaderChange) {
	in := w.objects[m.Key]
	if m.To != w.id || in == nil || in.p.Ballot() != m.Ballot {
		w.env.Logger().Debug("stale LeaderChange ignored", "msg", m)
		return
	}
	w.campaign(in, "LeaderChange from "+from.String())
}

// handleTick fires the objects' timers that are due and takes over objects
// whose owner has not answered this node's clients for too long: the owner
// failed or is cut off, and the object must move for its clients to make
// progress (the paper's owners fail only with their zone; this covers a
// single node too).
func (w *WPaxos) handleTick(paxi.ID, tick) {
	w.env.After(time.Duration(w.cfg.Heartbeat), tick{})
	now := w.env.Now()
	due := w.timers
	w.timers = w.spare[:0]
	for _, t := range due {
		if t.in != nil && t.due.After(now) {
			w.timers = append(w.timers, t)
		}
	}
	for i, t := range due {
		if t.in != nil && !t.due.After(now) {
			w.step(t.in, w.id, t.msg)
		}
		due[i] = timer{}
	}
	w.spare = due[:0]
	if len(w.busy) == 0 {
		return
	}
	for _, key := range sortedKeys(w.busy) {
		in := w.busy[key]
		if now.Sub(in.progress) < in.stealAfter {
			continue
		}
		in.progress = now
		if !w.leads(in) {
			w.campaign(in, "requests waiting")
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
