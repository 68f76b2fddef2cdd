package mu

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// Protocol returns Mu's entry for the protocol table, with DefaultOptions.
func Protocol() paxi.Protocol { return ProtocolWith(Options{}) }

// ProtocolWith returns Mu with options o (tests and benchmarks tune the
// detector and the log).
func ProtocolWith(o Options) paxi.Protocol {
	return paxi.Protocol{Name: "mu", New: func(env paxi.Env) (paxi.Replica, error) { return NewWith(env, o) },
		Messages: Messages, RDMA: true}
}

// The planes: replication, whose remote-write right is the permission Mu
// switches, and background (heartbeats, permission requests and grants),
// always readable and writable.
//
// Each plane has two connections per pair of nodes, one per direction of
// use: a node posts only on its out channel to a peer, and the peer's end
// of that connection only serves it. A node that resets its end after a
// failure of its own work therefore never breaks the connection its peer
// posts on; with one connection per pair, two nodes resetting in turn
// after each other's resets could keep each other down forever.
const (
	chRepl = 0
	chCtrl = 1
)

func dir(a, b paxi.ID) int {
	if a < b {
		return 0
	}
	return 1
}

// outCh is the channel this node posts plane's work to p on; inCh the one
// p posts on, whose end here carries the rights p has.
func (r *Replica) outCh(plane int, p paxi.ID) int { return 2*plane + dir(r.me, p) }
func (r *Replica) inCh(plane int, p paxi.ID) int  { return 2*plane + dir(p, r.me) }
func (r *Replica) out(plane int, p paxi.ID) rdma.QP {
	return r.qp[r.outCh(plane, p)][p]
}
func (r *Replica) in(plane int, p paxi.ID) rdma.QP { return r.qp[r.inCh(plane, p)][p] }

// Work-request kinds, the top byte of a WR's ID; the next three bytes are
// the leader's round for round work, the low four a peer-independent
// argument.
const (
	wrHeartbeat uint64 = iota + 1
	wrRequest
	wrGrant
	wrRound   // a slow- or fast-path operation counted by the current round
	wrRefresh // a READ of a follower's applied index during the fast path
	wrCommit  // a WRITE of the commit index
)

func wrID(kind uint64, round uint32) uint64 { return kind<<56 | uint64(round&0xffffff)<<32 }
func wrKind(id uint64) uint64               { return id >> 56 }
func wrRoundOf(id uint64) uint32            { return uint32(id>>32) & 0xffffff }

// cmdKey names a client command.
type cmdKey struct {
	client string
	id     uint64
}

// waiting is a client request this node received and has not executed.
type waiting struct {
	reqs []paxi.Request
	sent time.Time
}

// Replica is one Mu replica.
type Replica struct {
	env   paxi.Env
	o     Options
	dev   rdma.Device
	log   rdma.MR
	ctrl  rdma.MR
	me    paxi.ID
	peers []paxi.ID // every node but this one, sorted
	index map[paxi.ID]int
	n     int // cluster size
	maj   int
	qp    [4]map[paxi.ID]rdma.QP // by channel: see outCh and inCh

	// Permission management of this replica's log (the permission
	// switcher): grantee is the one node allowed to write it (this node
	// itself when it leads), changing is set while a rights change is in
	// flight on a replication queue pair, seenReq is the last request
	// number seen per peer, ackDue the request number owed an answer.
	grantee  paxi.ID
	changing map[paxi.ID]bool
	seenReq  map[paxi.ID]uint64
	ackDue   uint64

	// Failure detection by heartbeat score.
	score     map[paxi.ID]int
	alive     map[paxi.ID]bool
	hbSeen    map[paxi.ID]uint64
	hbPrev    map[paxi.ID]uint64
	hbBuf     map[paxi.ID][]byte
	hbReading map[paxi.ID]bool
	view      paxi.ID // the leader this node believes in
	scans     int
	quietTill int // no permission request before this scan (after yielding)

	reqNr uint64 // request numbers, increasing per requester
	// busySince is when each queue pair last made progress (a completion,
	// or a post to an idle queue pair), to reset stalled ones.
	busySince [4]map[paxi.ID]time.Time
	reqBusy   map[paxi.ID]bool

	lead *leader // nil unless this node leads or tries to

	// The replayer: applied is the next index to apply (also in the log
	// header, for leaders to read), next the next index to consume from
	// the log, pending the consumed entries not yet known decided, commit
	// the first undecided index as far as this node knows.
	applied uint64
	next    uint64
	pending []slot
	commit  uint64

	waiting map[cmdKey]*waiting
	stats   Stats
}

// Stats counts what a replica went through, for tests and reports.
type Stats struct {
	// AccessErrors counts operations this node posted that failed with a
	// remote access error: a follower had moved its permission elsewhere.
	AccessErrors int
	// SlowPaths counts slow paths started; FastCommits commands decided
	// on the fast path.
	SlowPaths, FastCommits int
	// Grants counts permission grants this node made to a new requester.
	Grants int
	// Snapshots counts snapshots installed.
	Snapshots int
}

// Stats returns the replica's counters.
func (r *Replica) Stats() Stats { return r.stats }

// New creates a Mu replica with DefaultOptions.
func New(env paxi.Env) (paxi.Replica, error) { return NewWith(env, Options{}) }

// NewWith creates a Mu replica with options o. It fails, wrapping
// rdma.ErrNoRDMA, without an RDMA device.
func NewWith(env paxi.Env, o Options) (*Replica, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	dev, err := rdma.From(env)
	if err != nil {
		return nil, fmt.Errorf("mu: %w", err)
	}
	r := &Replica{env: env, o: o, dev: dev, me: env.ID(), index: map[paxi.ID]int{},
		changing: map[paxi.ID]bool{}, seenReq: map[paxi.ID]uint64{},
		score: map[paxi.ID]int{}, alive: map[paxi.ID]bool{}, hbSeen: map[paxi.ID]uint64{}, hbPrev: map[paxi.ID]uint64{},
		hbBuf: map[paxi.ID][]byte{}, hbReading: map[paxi.ID]bool{}, reqBusy: map[paxi.ID]bool{},
		applied: 1, next: 1, commit: 1, waiting: map[cmdKey]*waiting{}}
	all := env.Peers()
	r.n, r.maj = len(all), len(all)/2+1
	for i, p := range all {
		r.index[p] = i
		if p != r.me {
			r.peers = append(r.peers, p)
		}
	}
	if r.log, err = dev.Register(offSlots+o.Slots*o.SlotSize, rdma.LocalWrite|rdma.RemoteRead|rdma.RemoteWrite); err != nil {
		return nil, fmt.Errorf("mu: register log: %w", err)
	}
	if r.ctrl, err = dev.Register(offRequests+16*r.n, rdma.LocalWrite|rdma.RemoteRead|rdma.RemoteWrite); err != nil {
		return nil, fmt.Errorf("mu: register control region: %w", err)
	}
	if r.log.RKey() != logKey || r.ctrl.RKey() != ctrlKey {
		panic(fmt.Sprintf("mu: regions got keys %d and %d, want %d and %d", r.log.RKey(), r.ctrl.RKey(), logKey, ctrlKey))
	}
	r.log.Store64(offApplied, r.applied)
	r.log.Watch(0, r.log.Len())
	r.ctrl.Watch(offRequests, 16*r.n)
	for ch := range r.qp {
		r.qp[ch], r.busySince[ch] = map[paxi.ID]rdma.QP{}, map[paxi.ID]time.Time{}
		for _, p := range r.peers {
			q, err := dev.QP(p, ch)
			if err != nil {
				return nil, fmt.Errorf("mu: %w", err)
			}
			if err := q.Connect(r.rights(ch, p)); err != nil {
				return nil, fmt.Errorf("mu: connect %v/%d: %w", p, ch, err)
			}
			r.qp[ch][p] = q
		}
	}
	for _, p := range r.peers {
		r.score[p], r.alive[p], r.hbBuf[p] = o.ScoreMax, true, make([]byte, 8)
	}
	r.view = r.lowestAlive()
	env.After(o.Scan, scan{})
	return r, nil
}

// rights are the remote rights this node's end of channel ch with p
// should grant: nothing on out channels (p never posts there); on in
// channels, read, and write on the background plane, and on the
// replication plane for the grantee only.
func (r *Replica) rights(ch int, p paxi.ID) rdma.Access {
	switch {
	case ch == r.outCh(ch/2, p):
		return rdma.NoAccess
	case ch/2 == chCtrl || p == r.grantee:
		return rdma.RemoteRead | rdma.RemoteWrite
	}
	return rdma.RemoteRead
}

func (r *Replica) reqOff(p paxi.ID) int   { return offRequests + 8*r.index[p] }
func (r *Replica) grantOff(p paxi.ID) int { return offRequests + 8*r.n + 8*r.index[p] }
func (r *Replica) slotOff(i uint64) int   { return offSlots + int(i%uint64(r.o.Slots))*r.o.SlotSize }

// Leader returns the node this replica believes leads.
func (r *Replica) Leader() paxi.ID { return r.view }

// IsLeader reports whether this replica leads with a quorum of
// permissions and a finished slow path (it commits on the fast path).
func (r *Replica) IsLeader() bool { return r.lead != nil && r.lead.fast }

// Applied returns the next log index this replica will apply.
func (r *Replica) Applied() uint64 { return r.applied }

// Grantee returns the node allowed to write this replica's log (itself
// when it leads; 0 before any grant).
func (r *Replica) Grantee() paxi.ID { return r.grantee }

// WritableBy returns the peers whose replication queue pair to this
// replica currently has the remote-write right in force.
func (r *Replica) WritableBy() []paxi.ID {
	var out []paxi.ID
	for _, p := range r.peers {
		if r.in(chRepl, p).RemoteAccess().Has(rdma.RemoteWrite) {
			out = append(out, p)
		}
	}
	return out
}

// Step handles one message.
func (r *Replica) Step(from paxi.ID, m paxi.Message) error {
	switch m := m.(type) {
	case rdma.WC:
		r.handleWC(m)
	case rdma.Changed:
		r.handleChanged(m)
	case rdma.Event:
		r.handleEvent(m)
	case scan:
		r.handleScan()
	case paxi.Request:
		r.handleRequest(from, m)
	case SnapshotRequest:
		if m.Index < r.applied {
			r.env.Send(from, Snapshot{Index: r.applied, Store: r.env.Store().Snapshot()})
		}
	case Snapshot:
		r.handleSnapshot(m)
	default:
		return fmt.Errorf("mu: unexpected message %T %v", m, m)
	}
	return nil
}

// post posts w to p on plane's out channel if the queue pair can take it.
func (r *Replica) post(p paxi.ID, plane int, w rdma.WR) bool {
	ch := r.outCh(plane, p)
	q := r.qp[ch][p]
	if q.State() != rdma.RTS {
		return false
	}
	if q.Outstanding() == 0 {
		r.busySince[ch][p] = r.env.Now()
	}
	if err := q.Post(w); err != nil {
		panic(fmt.Sprintf("mu: %v: post %v to %v/%d: %v", r.me, w, p, ch, err))
	}
	return true
}

func word(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// recoverQP resets a queue pair in Err and connects it again.
func (r *Replica) recoverQP(p paxi.ID, ch int) {
	if r.qp[ch][p].State() == rdma.Err {
		r.resetQP(p, ch)
	}
}

// resetQP resets a queue pair and connects it again. Reset discards the
// work still outstanding without completions, so what it carried is
// treated as failed here.
func (r *Replica) resetQP(p paxi.ID, ch int) {
	q := r.qp[ch][p]
	q.Reset()
	if err := q.Connect(r.rights(ch, p)); err != nil {
		panic(fmt.Sprintf("mu: %v: reconnect %v/%d: %v", r.me, p, ch, err))
	}
	switch {
	case ch == r.inCh(chRepl, p):
		r.changing[p] = false
	case ch != r.outCh(ch/2, p):
	case ch/2 == chCtrl:
		r.hbReading[p], r.reqBusy[p] = false, false
		if p == r.grantee && r.ackDue == 0 {
			r.ackDue = r.seenReq[p] // the grant may have been lost
		}
	case r.lead != nil:
		l := r.lead
		l.refresh[p] = false
		l.lose(r, p)
		l.progress(r)
	}
}

func (r *Replica) handleEvent(e rdma.Event) {
	switch e.Kind {
	case rdma.QPFatal:
		r.recoverQP(e.Peer, e.Channel)
	case rdma.AccessChanged:
		r.changing[e.Peer] = false
	case rdma.Connected, rdma.Reregistered:
	}
	r.reconcile()
}

func (r *Replica) handleWC(wc rdma.WC) {
	r.busySince[wc.Channel][wc.Peer] = r.env.Now()
	if wc.Status != rdma.Success {
		r.recoverQP(wc.Peer, wc.Channel)
	}
	if wc.Status == rdma.RemoteAccessErr {
		r.stats.AccessErrors++
	}
	switch wrKind(wc.ID) {
	case wrHeartbeat:
		r.hbReading[wc.Peer] = false
		if wc.Status == rdma.Success {
			r.hbSeen[wc.Peer] = binary.LittleEndian.Uint64(r.hbBuf[wc.Peer])
		}
	case wrRequest:
		r.reqBusy[wc.Peer] = false
	case wrGrant:
		if wc.Status != rdma.Success && wc.Peer == r.grantee {
			r.ackDue = r.seenReq[wc.Peer] // answer again once reconnected
		}
	case wrRound, wrRefresh, wrCommit:
		if r.lead != nil {
			r.lead.handleWC(r, wc)
		}
	}
	r.reconcile()
}

// handleScan is the background plane's period: bump the heartbeat, score
// the peers, elect, retry what is owed.
func (r *Replica) handleScan() {
	r.env.After(r.o.Scan, scan{})
	r.scans++
	r.ctrl.Store64(offHeartbeat, r.ctrl.Load64(offHeartbeat)+1)
	for _, p := range r.peers {
		if p > r.me {
			break // the leader is the lowest live node: only lower ones matter
		}
		if p > r.view && r.alive[p] {
			continue // between the leader and this node: its liveness changes nothing, skip the READ
		}
		if r.hbSeen[p] != r.hbPrev[p] {
			r.score[p] = min(r.o.ScoreMax, r.score[p]+r.o.ScoreUp)
		} else {
			r.score[p] = max(0, r.score[p]-r.o.ScoreDown)
		}
		r.hbPrev[p] = r.hbSeen[p]
		if r.alive[p] && r.score[p] <= r.o.FailAt {
			r.alive[p] = false
		} else if !r.alive[p] && r.score[p] >= r.o.RecoverAt {
			r.alive[p] = true
		}
		if !r.hbReading[p] && r.post(p, chCtrl, rdma.WR{ID: wrID(wrHeartbeat, 0), Op: rdma.Read, Local: r.hbBuf[p],
			RemoteAddr: offHeartbeat, RKey: ctrlKey, Signaled: true}) {
			r.hbReading[p] = true
		}
	}
	r.unstall()
	r.elect()
	if r.lead != nil {
		r.lead.onScan(r)
	}
	r.retryRequests()
	r.reconcile()
	r.replay()
}

// unstall resets the queue pairs whose operations have been outstanding
// for longer than Stall, and treats what they carried as failed: the
// detector, not the RC timeout, decides how long to wait for a peer.
func (r *Replica) unstall() {
	now := r.env.Now()
	for plane := range 2 {
		for _, p := range r.peers {
			ch := r.outCh(plane, p)
			q := r.qp[ch][p]
			if q.State() != rdma.RTS || q.Outstanding() == 0 || now.Sub(r.busySince[ch][p]) < r.o.Stall {
				continue
			}
			r.resetQP(p, ch)
		}
	}
}

func (r *Replica) lowestAlive() paxi.ID {
	for _, p := range r.peers {
		if p > r.me {
			break
		}
		if r.alive[p] {
			return p
		}
	}
	return r.me
}

// elect follows the heartbeat scores: the lowest live node leads.
func (r *Replica) elect() {
	old := r.view
	r.view = r.lowestAlive()
	defer func() {
		if r.view != old {
			r.resendWaiting() // to the new leader at once, not a Retry later
		}
	}()
	switch {
	case r.view == r.me && r.lead == nil && r.scans >= r.quietTill:
		r.campaign()
	case r.view != r.me && r.lead != nil:
		r.stepDown(false)
	}
}

// campaign starts leading: take write permission on this node's own log
// and ask every peer for its.
func (r *Replica) campaign() {
	r.lead = newLeader(r)
	r.setGrantee(r.me)
	for _, p := range r.peers {
		r.request(p)
	}
}

// request writes a fresh request number into p's request slot for this
// node (Mu's permission request).
func (r *Replica) request(p paxi.ID) {
	if r.reqBusy[p] {
		return
	}
	r.reqNr++
	if r.post(p, chCtrl, rdma.WR{ID: wrID(wrRequest, 0), Op: rdma.Write, Local: word(r.reqNr), RemoteAddr: uint64(r.reqOff(r.me)),
		RKey: ctrlKey, Signaled: true, Inline: true}) {
		r.reqBusy[p] = true
		r.lead.req[p] = r.reqNr
	}
}

// stepDown leaves leadership; yielded says another node took this node's
// log, so wait a few scans before asking for permissions again.
func (r *Replica) stepDown(yielded bool) {
	if r.lead == nil {
		return
	}
	r.lead = nil
	if yielded {
		r.quietTill = r.scans + r.o.Backoff
	}
	r.resetReplayer()
}

// setGrantee moves the write permission on this node's log to g (this
// node itself when it leads). The replayer starts over from the applied
// index: the new writer may rewrite undecided slots.
func (r *Replica) setGrantee(g paxi.ID) {
	r.grantee = g
	r.resetReplayer()
	r.reconcile()
}

// reconcile drives the replication queue pairs' rights towards the
// grantee's exclusivity, then tells the grantee (or this node's own
// leader) once no other peer can write: the permission switcher.
func (r *Replica) reconcile() {
	exclusive := true
	for _, p := range r.peers {
		q := r.in(chRepl, p)
		want := r.rights(r.inCh(chRepl, p), p)
		if q.State() == rdma.RTS && q.RemoteAccess() != want && !r.changing[p] {
			if err := q.SetRemoteAccess(want); err != nil {
				panic(fmt.Sprintf("mu: %v: set rights of %v: %v", r.me, p, err))
			}
			r.changing[p] = true
		}
		if p != r.grantee && q.RemoteAccess().Has(rdma.RemoteWrite) {
			exclusive = false
		}
	}
	switch {
	case r.grantee == r.me:
		if r.lead != nil && exclusive && !r.lead.selfOK {
			r.lead.selfOK = true
			r.lead.maybeStart(r)
		}
	case r.grantee != 0 && r.ackDue != 0 && exclusive:
		q := r.in(chRepl, r.grantee)
		if q.State() == rdma.RTS && q.RemoteAccess().Has(rdma.RemoteWrite) &&
			r.post(r.grantee, chCtrl, rdma.WR{ID: wrID(wrGrant, 0), Op: rdma.Write, Local: word(r.ackDue),
				RemoteAddr: uint64(r.grantOff(r.me)), RKey: ctrlKey, Signaled: true, Inline: true}) {
			r.ackDue = 0
		}
	}
}

func (r *Replica) handleChanged(c rdma.Changed) {
	switch c.RKey {
	case ctrlKey:
		r.scanRequests()
		if r.lead != nil {
			r.lead.scanGrants(r)
		}
	case logKey:
		r.replay()
	}
}

// scanRequests answers permission requests: the latest one wins (Mu's
// permission switcher). A request is also proof that its sender is alive.
func (r *Replica) scanRequests() {
	for _, p := range r.peers {
		v := r.ctrl.Load64(r.reqOff(p))
		if v == 0 {
			continue
		}
		if v != r.seenReq[p] {
			r.seenReq[p] = v
			r.score[p], r.alive[p] = r.o.ScoreMax, true
			if r.lead != nil {
				r.stepDown(true)
			}
			r.ackDue = v
			r.stats.Grants++
			r.setGrantee(p)
		}
	}
	r.view = r.lowestAlive()
	r.reconcile()
}

// String describes the replica's state on one line, for test failures.
func (r *Replica) String() string {
	s := fmt.Sprintf("%v{view=%v grantee=%v applied=%d next=%d commit=%d scans=%d", r.me, r.view, r.grantee, r.applied, r.next, r.commit, r.scans)
	if l := r.lead; l != nil {
		s += fmt.Sprintf(" lead{%v fast=%t self=%t p=%v q=%d", l.phase, l.fast, l.selfOK, l.propNr, len(l.queue))
		for _, p := range r.peers {
			s += fmt.Sprintf(" %v:g%t/s%t/a%d", p, l.granted[p], l.synced[p], l.fA[p])
		}
		s += "}"
	}
	for _, p := range r.peers {
		s += fmt.Sprintf(" %v:out=%v,%v in=%v/%v,%v", p, r.out(chRepl, p).State(), r.out(chCtrl, p).State(),
			r.in(chRepl, p).State(), r.in(chRepl, p).RemoteAccess(), r.in(chCtrl, p).State())
	}
	return s + "}"
}
