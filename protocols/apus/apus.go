package apus

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/store"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// Protocol is the protocol-table entry for APUS. It is crash-stop (no
// Recover): a simulated crash makes the host unreachable with its memory
// kept until it restarts.
func Protocol() paxi.Protocol {
	return paxi.Protocol{Name: "apus", New: New, RDMA: true, Check: Check}
}

// Check verifies, at the end of a simulated run, that the replicas applied
// the same log: every pair agrees on every index both applied (the
// applied prefix is identical, PROTOCOLS.md §0.3).
func Check(replicas map[paxi.ID]paxi.Replica) error {
	var ids []paxi.ID
	for id := range replicas {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var ref *Replica
	for _, id := range ids {
		r, ok := replicas[id].(*Replica)
		if !ok {
			continue
		}
		if ref == nil || len(r.hist) > len(ref.hist) {
			ref = r
		}
	}
	for _, id := range ids {
		r, ok := replicas[id].(*Replica)
		if !ok || r == ref {
			continue
		}
		for j, e := range r.hist {
			if o := ref.hist[j]; o.Term != e.Term || !slices.EqualFunc(o.Cmds, e.Cmds, sameCommand) {
				return fmt.Errorf("apus: entry %d applied as %v at %v and as %v at %v", j, e, id, o, ref.id)
			}
		}
	}
	return nil
}

// Options tune APUS. The zero value of a field means its default.
type Options struct {
	// Heartbeat is how often the leader writes its heartbeat word into
	// every peer's control region, and how often every node looks at its
	// own (default 5 ms; the artifact's hb_period is 1 ms, see
	// ArtifactOptions: the default is five times slower so that the
	// seeded simulation, which pays an event per heartbeat, stays cheap).
	Heartbeat time.Duration
	// ElectionTimeout is how long a follower waits without seeing its
	// leader's heartbeat move before it campaigns; each wait is drawn from
	// [ElectionTimeout, 2*ElectionTimeout) (default 50 ms, ten heartbeats,
	// as in the artifact).
	ElectionTimeout time.Duration
	// Slots is the number of entries the log ring holds (default 128).
	Slots int
	// SlotSize is the size of a slot in bytes (default 512). A command
	// larger than a slot's payload is refused.
	SlotSize int
	// Resend is how long a node waits for a request it forwarded to be
	// executed before it sends it again, to the leader it knows then
	// (default 50 ms).
	Resend time.Duration
}

// ArtifactOptions are the artifact's timing: 1 ms heartbeats and a 10 ms
// election timeout (elections then take 10-20 ms to start).
func ArtifactOptions() Options {
	return Options{Heartbeat: time.Millisecond, ElectionTimeout: 10 * time.Millisecond}
}

func (o Options) withDefaults() Options {
	if o.Heartbeat <= 0 {
		o.Heartbeat = 5 * time.Millisecond
	}
	if o.ElectionTimeout <= 0 {
		o.ElectionTimeout = 10 * o.Heartbeat
	}
	if o.Slots <= 0 {
		o.Slots = 128
	}
	if o.SlotSize <= 0 {
		o.SlotSize = 512
	}
	if o.Resend <= 0 {
		o.Resend = 50 * time.Millisecond
	}
	return o
}

type role uint8

const (
	follower role = iota
	candidate
	leader
)

func (r role) String() string { return [...]string{"follower", "candidate", "leader"}[r] }

// tick is the replica's periodic timer (every Heartbeat): heartbeats when
// leading, failure detection and re-acknowledgement otherwise.
type tick struct{}

func (tick) String() string { return "tick" }

// flush makes the leader drain its queue of requests into the log, once per
// instant, like the artifact's consensus thread draining its queue on every
// polling round: requests that arrive together share entries.
type flush struct{}

func (flush) String() string { return "flush" }

// cmdKey names a client command, to route its reply.
type cmdKey struct {
	client string
	id     uint64
}

// waiting is a client request this node received and has not executed yet.
type waiting struct {
	reqs []paxi.Request
	sent time.Time
}

// Stats counts what a replica did, for tests and status pages.
type Stats struct {
	// Elections this node started; Won of them.
	Elections, Won int
	// Appended entries (as leader), Applied entries, Acks written.
	Appended, Applied, Acks int
	// Adjusted followers (log adjustments completed as leader).
	Adjusted int
	// Failed work completions (any status but success) on this node.
	Failed int
	// Refused commands (larger than a slot).
	Refused int
}

// Replica is one APUS replica.
type Replica struct {
	env   paxi.Env
	o     Options
	id    paxi.ID
	peers []paxi.ID
	me    int // index of id in peers

	dev  rdma.Device
	log  rdma.MR
	ctl  rdma.MR
	conn []*conn // per peer index; nil for me

	role     role
	term     uint64
	leader   int // index of the leader of term, -1 if unknown
	votedFor int // -1: none in term

	// The log: entries below applied are in hist (applied, never change);
	// entries [applied, end) are in the ring. end is verified: for a
	// follower, the end word of its term's leader after checking every
	// entry below it.
	hist    []entry
	applied int64
	end     int64
	endTerm uint64 // term of the end word end was verified against

	// Leader state.
	commit    int64
	termStart int64 // index of this term's first entry (the NOOP)
	hb        uint64
	fs        []*follow

	// Follower state.
	fence     [2]uint64 // end and commit words when this node last revoked access
	fenced    bool
	acked     [2]uint64 // last ack record written (ack word, applied)
	ackedAt   time.Time
	lastHB    uint64 // the leader's heartbeat word at the last tick
	heard     time.Time
	deadline  time.Duration
	voteAcked uint64 // term of the last vote ack written

	pending  []paxi.Request // leader: to append; others: to forward once a leader is known
	flushing bool
	waiting  map[cmdKey]*waiting

	stats   Stats
	scratch []byte // a slot's bytes, for reading entries
}

// New creates an APUS replica with the default options.
func New(env paxi.Env) (paxi.Replica, error) { return NewWithOptions(env, Options{}) }

// NewWithOptions creates an APUS replica. It fails with an error wrapping
// rdma.ErrNoRDMA if env has no RDMA device.
func NewWithOptions(env paxi.Env, o Options) (*Replica, error) {
	o = o.withDefaults()
	dev, err := rdma.From(env)
	if err != nil {
		return nil, fmt.Errorf("apus: %w", err)
	}
	if o.SlotSize < entryHeader+64 || o.SlotSize%8 != 0 {
		return nil, fmt.Errorf("apus: slot size %d: want a multiple of 8 of at least %d", o.SlotSize, entryHeader+64)
	}
	if o.ElectionTimeout < 3*o.Heartbeat {
		return nil, fmt.Errorf("apus: election timeout %v: want at least 3 heartbeats (%v)", o.ElectionTimeout, 3*o.Heartbeat)
	}
	r := &Replica{env: env, o: o, id: env.ID(), peers: env.Peers(), dev: dev, leader: -1, votedFor: -1,
		waiting: map[cmdKey]*waiting{}}
	r.me = slices.Index(r.peers, r.id)
	if r.me < 0 {
		return nil, fmt.Errorf("apus: node %v is not in the configuration", r.id)
	}
	rights := rdma.LocalWrite | rdma.RemoteRead | rdma.RemoteWrite
	if r.log, err = dev.Register(logHeader+o.Slots*o.SlotSize, rights); err != nil {
		return nil, fmt.Errorf("apus: register the log: %w", err)
	}
	if r.ctl, err = dev.Register(ctlSize(len(r.peers)), rights); err != nil {
		return nil, fmt.Errorf("apus: register the control region: %w", err)
	}
	if r.log.RKey() != rkeyLog || r.ctl.RKey() != rkeyCtl {
		return nil, fmt.Errorf("apus: regions got keys %d and %d, want %d and %d (register nothing before APUS)", r.log.RKey(), r.ctl.RKey(), rkeyLog, rkeyCtl)
	}
	r.log.Watch(0, logHeader)
	r.ctl.Watch(ctlBase(len(r.peers)), len(r.peers)*recSize)
	r.conn = make([]*conn, len(r.peers))
	for i, p := range r.peers {
		if i == r.me {
			continue
		}
		c := &conn{peer: p}
		if c.log, err = dev.QP(p, chLog); err != nil {
			return nil, fmt.Errorf("apus: %w", err)
		}
		if c.ctl, err = dev.QP(p, chCtl); err != nil {
			return nil, fmt.Errorf("apus: %w", err)
		}
		if err := c.ctl.Connect(ctlRights); err != nil {
			return nil, fmt.Errorf("apus: connect the control plane to %v: %w", p, err)
		}
		r.conn[i] = c
	}
	r.resetElection()
	env.After(o.Heartbeat, tick{})
	return r, nil
}

// Step implements paxi.Replica.
func (r *Replica) Step(from paxi.ID, m paxi.Message) error {
	switch m := m.(type) {
	case paxi.Request:
		r.handleRequest(m)
	case tick:
		r.handleTick()
	case flush:
		r.flushing = false
		r.append()
	case rdma.WC:
		r.handleWC(m)
	case rdma.Changed:
		switch m.RKey {
		case rkeyLog:
			r.handleLogChanged()
		case rkeyCtl:
			r.scanControl()
		}
	case rdma.Event:
		r.handleEvent(m)
	default:
		return fmt.Errorf("apus: %w: %v", paxi.ErrUnknownMessage, m)
	}
	return nil
}

// Leader returns the node this replica believes leads (zero if none).
func (r *Replica) Leader() paxi.ID {
	if r.leader < 0 {
		return 0
	}
	return r.peers[r.leader]
}

// IsLeader reports whether this replica leads.
func (r *Replica) IsLeader() bool { return r.role == leader }

// Term returns the replica's current term.
func (r *Replica) Term() uint64 { return r.term }

// Applied returns the number of log entries applied to the store.
func (r *Replica) Applied() int64 { return r.applied }

// Commit returns the leader's commit index (entries below it are
// committed); on other nodes, what they applied.
func (r *Replica) Commit() int64 {
	if r.role == leader {
		return r.commit
	}
	return r.applied
}

// Stats returns the replica's counters.
func (r *Replica) Stats() Stats { return r.stats }

// String describes the replica's state on one line.
func (r *Replica) String() string {
	return fmt.Sprintf("apus %v %v term=%d leader=%v end=%d applied=%d", r.id, r.role, r.term, r.Leader(), r.end, r.applied)
}

func sameCommand(a, b paxi.Command) bool {
	return a.Op == b.Op && a.Key == b.Key && string(a.Value) == string(b.Value) && a.ClientID == b.ClientID && a.CommandID == b.CommandID
}

// handleRequest takes a client request: the leader queues it for the log,
// others forward it to the leader, or hold it until one is known.
func (r *Replica) handleRequest(req paxi.Request) {
	if !r.fits(req.Command) {
		r.stats.Refused++
		rep := paxi.NewReply(req, store.Result{}, -1, 0)
		rep.Err = fmt.Sprintf("apus: command of %d bytes does not fit in a log slot of %d", commandSize(req.Command), r.o.SlotSize)
		r.env.Reply(req, rep)
		return
	}
	if req.Node == r.id {
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
	case r.role == leader:
		r.pending = append(r.pending, req)
		r.scheduleFlush()
	case r.leader >= 0:
		r.env.Send(r.peers[r.leader], req)
	default:
		r.pending = append(r.pending, req)
	}
}

func (r *Replica) scheduleFlush() {
	if !r.flushing {
		r.flushing = true
		r.env.After(0, flush{})
	}
}

// forwardPending hands what this node holds to the leader it just learnt,
// and re-sends its own waiting requests there: the old leader may have
// lost them.
func (r *Replica) forwardPending() {
	l := r.peers[r.leader]
	for _, req := range r.pending {
		if req.Node != r.id {
			r.env.Send(l, req)
		}
	}
	r.pending = nil
	r.resend(func(*waiting) bool { return true })
}

// resend sends this node's waiting requests that pass the filter to the
// leader (or queues them, when this node leads), in a deterministic order.
// A command that ends up twice in the log is executed once: the store
// deduplicates by client and command id.
func (r *Replica) resend(filter func(*waiting) bool) {
	if r.leader < 0 {
		return
	}
	var keys []cmdKey
	for k, w := range r.waiting {
		if filter(w) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b cmdKey) int {
		return cmp.Or(strings.Compare(a.client, b.client), cmp.Compare(a.id, b.id))
	})
	now := r.env.Now()
	for _, k := range keys {
		w := r.waiting[k]
		w.sent = now
		req := w.reqs[len(w.reqs)-1]
		if r.role == leader {
			r.pending = append(r.pending, req)
		} else {
			r.env.Send(r.peers[r.leader], req)
		}
	}
	if r.role == leader && len(keys) > 0 {
		r.scheduleFlush()
	}
}

// entryAt returns entry j of this node's log: from the history if applied,
// from the ring otherwise (where it must check).
func (r *Replica) entryAt(j int64) entry {
	if j < r.applied {
		return r.hist[j]
	}
	e, err := r.readSlot(j)
	if err != nil {
		panic(fmt.Sprintf("apus %v: entry %d (applied %d, end %d): %v", r.id, j, r.applied, r.end, err))
	}
	return e
}

// termAt is the term of entry j (0 for j < 0: the empty log).
func (r *Replica) termAt(j int64) uint64 {
	if j < 0 {
		return 0
	}
	if j < r.applied {
		return r.hist[j].Term
	}
	t, err := r.checkSlot(j)
	if err != nil {
		panic(fmt.Sprintf("apus %v: entry %d (applied %d, end %d): %v", r.id, j, r.applied, r.end, err))
	}
	return t
}

// readSlot decodes the ring slot of entry j and checks it holds entry j.
func (r *Replica) readSlot(j int64) (entry, error) {
	if r.scratch == nil {
		r.scratch = make([]byte, r.o.SlotSize)
	}
	r.log.Read(r.slotOff(j), r.scratch)
	e, err := decodeEntry(r.scratch) // decoding copies what it keeps
	if err == nil && e.Index != j {
		err = fmt.Errorf("apus: slot of entry %d holds entry %d", j, e.Index)
	}
	return e, err
}

func (r *Replica) slotOff(j int64) int { return logHeader + int(j%int64(r.o.Slots))*r.o.SlotSize }

// apply executes entries up to upTo (exclusive) in log order and answers
// the clients waiting here.
func (r *Replica) apply(upTo int64) {
	if upTo <= r.applied {
		return
	}
	for r.applied < upTo {
		e := r.entryAt(r.applied)
		for _, c := range e.Cmds {
			res := r.env.Store().Apply(c)
			k := cmdKey{c.ClientID, c.CommandID}
			if w := r.waiting[k]; w != nil && c.Op != paxi.Noop {
				for _, req := range w.reqs {
					r.env.Reply(req, paxi.NewReply(req, res, e.Index, paxi.Ballot(e.Term)))
				}
				delete(r.waiting, k)
			}
		}
		r.hist = append(r.hist, e)
		r.applied++
		r.stats.Applied++
	}
	r.log.Store64(offApplied, uint64(r.applied))
	r.end = max(r.end, r.applied)
}

// checkSlot verifies the ring slot of entry j without decoding it and
// returns the entry's term.
func (r *Replica) checkSlot(j int64) (uint64, error) {
	if r.scratch == nil {
		r.scratch = make([]byte, r.o.SlotSize)
	}
	r.log.Read(r.slotOff(j), r.scratch)
	idx, term, _, err := checkEntry(r.scratch)
	if err == nil && idx != j {
		err = fmt.Errorf("apus: slot of entry %d holds entry %d", j, idx)
	}
	return term, err
}
