package rdma

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ailidani/paxi-style/paxi"
)

// Host is how a fabric reaches a node's replica. Deliver hands m to the
// replica's Step as soon as it can, after the messages delivered before:
// at once if it is running, when it resumes if it is paused. The fabric
// never delivers to a crashed host.
type Host interface {
	Deliver(m paxi.Message)
}

// Fabric is the sim backend: the emulated NICs of a set of hosts and the
// network between them, in virtual time on a Scheduler. It is
// single-threaded: everything runs in the scheduler's events and in calls
// from the hosts' replicas, which the simulator makes on its one goroutine.
type Fabric struct {
	s     Scheduler
	o     Options
	p     Profile
	rng   *rand.Rand
	hosts map[paxi.ID]*host
	// atomicFree is when the responder's atomic unit is next free for one
	// (host, rkey, address).
	atomicFree map[atomicKey]time.Duration
	stats      FabricStats

	// Reachable, if set, is asked at each placement whether packets get
	// from one node to another: the simulator's partitions. Both
	// directions must be reachable (the request and its acknowledgement).
	Reachable func(from, to paxi.ID) bool
}

// FabricStats counts what a fabric did.
type FabricStats struct {
	// Posted work requests; Placed operations (executed at the
	// responder); Failed ones (any status but Success, flushes included);
	// Completions delivered; Changes delivered (watch notifications).
	Posted, Placed, Failed, Completions, Changes uint64
}

type atomicKey struct {
	host paxi.ID
	rkey uint32
	addr uint64
}

type host struct {
	id       paxi.ID
	h        Host
	inc      uint64  // incarnation: one more after every crash
	dev      *device // nil while crashed
	isolated bool
}

// NewFabric returns an empty fabric on s.
func NewFabric(s Scheduler, o Options) (*Fabric, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	return &Fabric{s: s, o: o, p: o.Profile, rng: rand.New(rand.NewPCG(o.Seed, 0x4d4a)),
		hosts: map[paxi.ID]*host{}, atomicFree: map[atomicKey]time.Duration{}}, nil
}

// Options returns the fabric's options, defaults filled.
func (f *Fabric) Options() Options { return f.o }

// Stats returns what the fabric did so far.
func (f *Fabric) Stats() FabricStats { return f.stats }

// Attach adds host id, whose replica h reaches, and returns its device.
// Attaching an id twice panics.
func (f *Fabric) Attach(id paxi.ID, h Host) Device {
	if _, dup := f.hosts[id]; dup {
		panic(fmt.Sprintf("rdma: host %v attached twice", id))
	}
	hs := &host{id: id, h: h, inc: 1}
	hs.dev = newDevice(f, hs)
	f.hosts[id] = hs
	return hs.dev
}

// Device returns host id's device, nil while it is crashed.
func (f *Fabric) Device(id paxi.ID) Device {
	if d := f.mustHost(id).dev; d != nil {
		return d
	}
	return nil
}

// Crash takes host id down: its memory and queue pairs are gone, work in
// flight from it is lost, and operations to it fail with RetryExceeded.
func (f *Fabric) Crash(id paxi.ID) {
	h := f.mustHost(id)
	if h.dev != nil {
		h.dev.dead = true
		h.dev = nil
	}
}

// Restart brings a crashed host back with a new device: fresh, zeroed
// memory, no regions and no queue pairs; peers must reconnect to it. It
// does nothing to a host that is up.
func (f *Fabric) Restart(id paxi.ID) Device {
	h := f.mustHost(id)
	if h.dev == nil {
		h.inc++
		h.dev = newDevice(f, h)
	}
	return h.dev
}

// Isolate makes host id unreachable (true) or reachable again: its memory
// and queue pairs stay, but no operation gets to or from it. The simulator
// uses it for a crash of a crash-stop protocol, which resumes later with
// its state, like a host behind a long partition.
func (f *Fabric) Isolate(id paxi.ID, isolated bool) { f.mustHost(id).isolated = isolated }

// Up reports whether host id is up (not crashed).
func (f *Fabric) Up(id paxi.ID) bool { return f.mustHost(id).dev != nil }

func (f *Fabric) mustHost(id paxi.ID) *host {
	h, ok := f.hosts[id]
	if !ok {
		panic(fmt.Sprintf("rdma: host %v not attached to the fabric", id))
	}
	return h
}

// jitter draws a one-way latency around median d.
func (f *Fabric) jitter(d time.Duration) time.Duration {
	if f.p.Sigma > 0 {
		d = time.Duration(float64(d) * math.Exp(f.p.Sigma*f.rng.NormFloat64()))
	}
	if f.p.SpikeProbability > 0 && f.p.Spike > 0 && f.rng.Float64() < f.p.SpikeProbability {
		d += time.Duration(f.rng.Int64N(int64(f.p.Spike)))
	}
	return d
}

// deliver hands m to a device's replica, unless the device is gone.
func (f *Fabric) deliver(d *device, m paxi.Message) {
	if d.dead {
		return
	}
	switch m.(type) {
	case WC:
		f.stats.Completions++
	case Changed:
		f.stats.Changes++
	}
	d.h.h.Deliver(m)
}

// device is one host's NIC for one incarnation of the host.
type device struct {
	f       *Fabric
	h       *host
	inc     uint64
	dead    bool
	mrs     []*mr
	qps     map[qpKey]*qp
	nicNext time.Duration // message-rate cap
}

type qpKey struct {
	peer paxi.ID
	ch   int
}

func newDevice(f *Fabric, h *host) *device {
	return &device{f: f, h: h, inc: h.inc, qps: map[qpKey]*qp{}}
}

func (d *device) ID() paxi.ID      { return d.h.id }
func (d *device) Profile() Profile { return d.f.p }

func (d *device) Register(size int, a Access) (MR, error) {
	if d.dead {
		return nil, ErrDeviceGone
	}
	if size <= 0 {
		return nil, fmt.Errorf("%w: register %d bytes: the size must be positive", ErrBadWR, size)
	}
	m := &mr{d: d, rkey: FirstRKey + uint32(len(d.mrs)), mem: make([]byte, size), access: a}
	d.mrs = append(d.mrs, m)
	return m, nil
}

func (d *device) mr(rkey uint32) *mr {
	i := int64(rkey) - int64(FirstRKey)
	if i < 0 || i >= int64(len(d.mrs)) {
		return nil
	}
	return d.mrs[i]
}

func (d *device) QP(peer paxi.ID, ch int) (QP, error) {
	if d.dead {
		return nil, ErrDeviceGone
	}
	if _, ok := d.f.hosts[peer]; !ok {
		return nil, fmt.Errorf("%w: %v is not on the fabric", ErrUnknownPeer, peer)
	}
	if ch < 0 {
		return nil, fmt.Errorf("%w: channel %d: must not be negative", ErrBadWR, ch)
	}
	k := qpKey{peer, ch}
	q, ok := d.qps[k]
	if !ok {
		q = &qp{d: d, peer: peer, ch: ch}
		d.qps[k] = q
	}
	return q, nil
}

// mr is a registered region of a device.
type mr struct {
	d         *device
	rkey      uint32
	mem       []byte
	access    Access
	watches   []*watch
	nextWatch int
	accessAt  time.Duration // when the last scheduled Reregister takes effect
}

type watch struct {
	id, off, n int
	pending    bool
	dead       bool
}

func (m *mr) RKey() uint32   { return m.rkey }
func (m *mr) Len() int       { return len(m.mem) }
func (m *mr) Access() Access { return m.access }

func (m *mr) Read(off int, p []byte) {
	checkLocal("read", m.rkey, len(m.mem), off, len(p))
	copy(p, m.mem[off:])
}

func (m *mr) Write(off int, p []byte) {
	checkLocal("write", m.rkey, len(m.mem), off, len(p))
	copy(m.mem[off:], p)
}

func (m *mr) Load64(off int) uint64 {
	checkLocal("Load64", m.rkey, len(m.mem), off, 8)
	return binary.LittleEndian.Uint64(m.mem[off:])
}

func (m *mr) Store64(off int, v uint64) {
	checkLocal("Store64", m.rkey, len(m.mem), off, 8)
	binary.LittleEndian.PutUint64(m.mem[off:], v)
}

func (m *mr) Watch(off, n int) int {
	checkLocal("watch", m.rkey, len(m.mem), off, n)
	m.nextWatch++
	m.watches = append(m.watches, &watch{id: m.nextWatch, off: off, n: n})
	return m.nextWatch
}

func (m *mr) Unwatch(id int) {
	m.watches = slices.DeleteFunc(m.watches, func(w *watch) bool {
		if w.id == id {
			w.dead = true
		}
		return w.dead
	})
}

func (m *mr) Reregister(a Access) error {
	if m.d.dead {
		return ErrDeviceGone
	}
	f := m.d.f
	cost := f.p.RegisterBase + time.Duration(float64(f.p.RegisterPerMiB)*float64(len(m.mem))/(1<<20))
	at := max(f.s.Now()+cost, m.accessAt)
	m.accessAt = at
	f.s.After(at-f.s.Now(), func() {
		m.access = a
		f.deliver(m.d, Event{Kind: Reregistered, RKey: m.rkey, Access: a})
	})
	return nil
}

// land places bytes at off (a remote operation) and wakes the watches
// that cover them.
func (m *mr) land(off int, b []byte) {
	copy(m.mem[off:], b)
	f := m.d.f
	for _, w := range m.watches {
		if w.pending || off >= w.off+w.n || off+len(b) <= w.off {
			continue
		}
		w.pending = true
		f.s.After(f.p.PollDetect, func() {
			w.pending = false
			if !w.dead {
				f.deliver(m.d, Changed{RKey: m.rkey, Watch: w.id, Off: w.off, Len: w.n})
			}
		})
	}
}

// qp is one end of a queue pair.
type qp struct {
	d      *device
	peer   paxi.ID
	ch     int
	state  QPState
	access Access
	// remoteInc is the peer's incarnation this end was connected to.
	remoteInc uint64
	// gen counts resets: work of an earlier generation is discarded.
	gen uint64
	// failed is set at the placement instant of the first failed
	// operation: later ones are flushed. errAt is when it completes.
	failed bool
	errAt  time.Duration
	// posted and freed count work requests: slots up to freed are free.
	posted, freed uint64
	// Per-queue-pair order: the last placement and completion scheduled,
	// and the completions of outstanding READs and atomics.
	lastPlace, lastComplete time.Duration
	reads                   []time.Duration
	accessAt                time.Duration
	recvs                   []recvBuf
}

type recvBuf struct {
	id  uint64
	buf []byte
}

func (q *qp) Peer() paxi.ID        { return q.peer }
func (q *qp) Channel() int         { return q.ch }
func (q *qp) State() QPState       { return q.state }
func (q *qp) RemoteAccess() Access { return q.access }
func (q *qp) Outstanding() int     { return int(q.posted - q.freed) }

func (q *qp) String() string { return fmt.Sprintf("qp %v->%v/%d", q.d.h.id, q.peer, q.ch) }

func (q *qp) Reset() error {
	if q.d.dead {
		return ErrDeviceGone
	}
	q.state, q.access, q.failed = Reset, NoAccess, false
	q.gen++
	q.freed = q.posted
	q.recvs, q.reads = nil, nil
	// The discarded work no longer orders what is posted after the reset:
	// a request that was to fail at the RC timeout must not hold back the
	// new connection's completions until then.
	q.lastPlace, q.lastComplete, q.errAt = 0, 0, 0
	return nil
}

func (q *qp) Connect(a Access) error {
	if q.d.dead {
		return ErrDeviceGone
	}
	if q.state != Reset {
		return fmt.Errorf("%w: connect %v in %v: Reset it first", ErrQPState, q, q.state)
	}
	q.state = Init
	f, gen := q.d.f, q.gen
	f.s.After(f.p.Connect, func() {
		if q.gen != gen || q.state != Init {
			return
		}
		q.state, q.access, q.failed = RTS, a, false
		q.remoteInc = f.hosts[q.peer].inc
		f.deliver(q.d, Event{Kind: Connected, Peer: q.peer, Channel: q.ch, Access: a})
	})
	return nil
}

func (q *qp) SetRemoteAccess(a Access) error {
	if q.d.dead {
		return ErrDeviceGone
	}
	if q.state != RTS {
		return fmt.Errorf("%w: SetRemoteAccess on %v in %v: only in RTS (pass the rights to Connect)", ErrQPState, q, q.state)
	}
	f, gen := q.d.f, q.gen
	at := max(f.s.Now()+f.p.AccessChange, q.accessAt)
	q.accessAt = at
	f.s.After(at-f.s.Now(), func() {
		if q.gen != gen {
			return
		}
		q.access = a
		f.deliver(q.d, Event{Kind: AccessChanged, Peer: q.peer, Channel: q.ch, Access: a})
	})
	return nil
}

func (q *qp) PostRecv(id uint64, buf []byte) error {
	if q.d.dead {
		return ErrDeviceGone
	}
	if q.state == Reset {
		return fmt.Errorf("%w: PostRecv on %v in %v", ErrQPState, q, q.state)
	}
	q.recvs = append(q.recvs, recvBuf{id, buf})
	return nil
}

func (q *qp) Post(wrs ...WR) error {
	if q.d.dead {
		return ErrDeviceGone
	}
	if q.state != RTS && q.state != Err {
		return fmt.Errorf("%w: post on %v in %v", ErrQPState, q, q.state)
	}
	for _, w := range wrs {
		if err := validateWR(w, q.d.f.p); err != nil {
			return err
		}
	}
	if used := q.Outstanding() + len(wrs); used > q.d.f.p.SendQueue {
		return fmt.Errorf("%w: %v: %d slots needed, depth %d (unsignaled requests hold theirs until a later signaled one completes)",
			ErrSendQueueFull, q, used, q.d.f.p.SendQueue)
	}
	for _, w := range wrs {
		q.post(w)
	}
	return nil
}

// op is one posted work request on its way.
type op struct {
	q        *qp
	w        WR
	seq, gen uint64
	postedAt time.Duration
	// place is when the first byte lands; last when the last chunk does;
	// complete when the requester's handler sees the completion.
	place, last, complete time.Duration
	payload               []byte
}

func (q *qp) post(w WR) {
	f := q.d.f
	p := f.p
	now := f.s.Now()
	f.stats.Posted++
	q.posted++
	o := &op{q: q, w: w, seq: q.posted, gen: q.gen, postedAt: now}
	if w.Inline {
		o.payload = slices.Clone(w.Local)
	}
	if q.state == Err || q.failed {
		o.complete = max(now+p.Poll, q.lastComplete)
		q.lastComplete = o.complete
		f.s.After(o.complete-now, func() { f.complete(o, FlushErr, o.complete, nil) })
		return
	}

	// The requester: post overhead, DMA read of the payload, NIC issue;
	// then the wire, the responder, the placement of the chunks.
	issue := max(p.issueAt(w, now), q.d.nicNext)
	if p.MsgRate > 0 {
		q.d.nicNext = issue + time.Duration(1e9/p.MsgRate)
	}
	dma := carriesPayload(w.Op) && !w.Inline
	readLike := w.Op == Read || w.Op.atomic()
	place, in := p.placeAt(w, issue, q.reads, f.jitter)
	// Strictly after the previous work of the queue pair: an equal
	// instant would leave the order of the two placements to the order
	// the events were queued in, which is not the post order.
	place = max(place, q.lastPlace+1)
	if w.Op.atomic() {
		k := atomicKey{q.peer, w.RKey, w.RemoteAddr}
		place = max(place, f.atomicFree[k])
		f.atomicFree[k] = place + p.AtomicService
	}
	last := place
	if w.Op == Write || w.Op == WriteImm {
		last += f.spread(w.RemoteAddr, len(w.Local))
	}
	q.lastPlace = last
	complete := last + f.jitter(p.Ack) + p.bytesTime(in) + p.Poll
	complete = max(complete, q.lastComplete)
	q.lastComplete = complete
	if readLike {
		q.reads = append(q.reads, complete)
		q.reads = slices.DeleteFunc(q.reads, func(t time.Duration) bool { return t <= now })
	}
	o.place, o.last, o.complete = place, last, complete

	if dma {
		f.s.After(issue-now, func() { o.payload = slices.Clone(w.Local) })
	}
	f.s.After(place-now, func() { f.execute(o) })
}

// spread is how long after the first chunk of a write its last one lands.
func (f *Fabric) spread(addr uint64, n int) time.Duration {
	k := len(chunks(int(addr%ChunkSize), n, InorderChunks, nil))
	if k <= 1 || f.o.Placement == Whole {
		return 0
	}
	return time.Duration(k-1) * f.chunkGap(k)
}

// chunkGap is the time between two chunks of a k-chunk write.
func (f *Fabric) chunkGap(k int) time.Duration {
	g := f.p.bytesTime(ChunkSize)
	if f.o.Placement == RandomChunks {
		g = max(g, f.o.TearWindow/time.Duration(k))
	}
	return g
}

// execute runs an operation at the responder, at its placement instant.
func (f *Fabric) execute(o *op) {
	q, w := o.q, o.w
	if q.gen != o.gen || q.d.dead {
		return // reset or crashed requester: the work is discarded
	}
	if q.failed {
		f.complete(o, FlushErr, max(o.complete, q.errAt), nil)
		return
	}
	now := f.s.Now()
	rh := f.hosts[q.peer]
	var rq *qp
	reachable := rh.dev != nil && !rh.isolated && !q.d.h.isolated && rh.inc == q.remoteInc &&
		(f.Reachable == nil || (f.Reachable(q.d.h.id, q.peer) && f.Reachable(q.peer, q.d.h.id)))
	if reachable {
		rq = rh.dev.qps[qpKey{q.d.h.id, q.ch}]
		reachable = rq != nil && rq.state == RTS && rq.remoteInc == q.d.inc
	}
	if !reachable {
		f.fail(o, RetryExceeded, max(o.complete, o.postedAt+f.p.RCTimeout()))
		return
	}
	rdev := rh.dev
	var m *mr
	st := Success
	if w.Op.needs() != 0 {
		m = rdev.mr(w.RKey)
		var size int
		var ma Access
		if m != nil {
			size, ma = len(m.mem), m.access
		}
		st = checkRemote(w, m != nil, size, ma, rq.access)
	}
	var rb recvBuf
	if st == Success && (w.Op == Send || w.Op == WriteImm) {
		if len(rq.recvs) == 0 {
			f.fail(o, RNRRetryExceeded, max(o.complete, now+f.p.RNRTimeout))
			return
		}
		rb = rq.recvs[0]
		if w.Op == Send && len(o.payload) > len(rb.buf) {
			st = RemoteInvalidReq
		} else {
			rq.recvs = rq.recvs[1:]
		}
	}
	if st != Success {
		if !f.o.KeepResponderOnAccessErr {
			rq.state = Err
			rq.failed = true
			f.deliver(rdev, Event{Kind: QPFatal, Peer: rq.peer, Channel: rq.ch, Access: rq.access})
		}
		f.fail(o, st, o.complete)
		return
	}
	f.stats.Placed++
	switch w.Op {
	case Write, WriteImm:
		f.placeWrite(m, int(w.RemoteAddr), o.payload, o.place)
		if w.Op == WriteImm {
			f.s.After(o.last-now+f.p.Poll, func() {
				f.deliver(rdev, WC{ID: rb.id, Peer: rq.peer, Channel: rq.ch, Op: RecvImm, Len: len(o.payload), Imm: w.Imm})
			})
		}
		f.complete(o, Success, o.complete, nil)
	case Send:
		copy(rb.buf, o.payload)
		f.s.After(f.p.Poll, func() {
			f.deliver(rdev, WC{ID: rb.id, Peer: rq.peer, Channel: rq.ch, Op: Recv, Len: len(o.payload)})
		})
		f.complete(o, Success, o.complete, nil)
	case Read:
		data := slices.Clone(m.mem[w.RemoteAddr : w.RemoteAddr+uint64(len(w.Local))])
		f.complete(o, Success, o.complete, data)
	case CAS, FAA:
		old := atomicOp(w, m.mem[w.RemoteAddr:w.RemoteAddr+8])
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], old)
		f.complete(o, Success, o.complete, b[:])
	}
}

// placeWrite lands the chunks of an accepted write: the first now, the
// others one chunk gap apart, in the placement mode's order. The write was
// checked once, at the first chunk: the rest land whatever changes after.
func (f *Fabric) placeWrite(m *mr, off int, b []byte, start time.Duration) {
	cs := chunks(off, len(b), f.o.Placement, f.rng)
	gap := f.chunkGap(len(cs))
	now := f.s.Now()
	for i, c := range cs {
		piece := b[c.lo-off : c.hi-off]
		at := start + time.Duration(i)*gap
		if i == 0 || at <= now {
			// Due already: a real-time backend that runs this event
			// late lands the overdue chunks here, in order, rather than
			// queue them behind later work of the same queue pair (the
			// end pointer written after this write, say).
			m.land(c.lo, piece)
			continue
		}
		f.s.After(at-now, func() { m.land(c.lo, piece) })
	}
}

// fail completes o with an error status at `at`: later work on the queue
// pair is flushed, and the queue pair enters Err when the error completes.
func (f *Fabric) fail(o *op, st Status, at time.Duration) {
	q := o.q
	q.failed = true
	q.errAt = at
	q.lastComplete = max(q.lastComplete, at)
	f.complete(o, st, at, nil)
}

// complete delivers o's completion at `at` (data: what a READ or atomic
// returns) and frees its send-queue slots.
func (f *Fabric) complete(o *op, st Status, at time.Duration, data []byte) {
	if st == Success && !o.w.Signaled {
		// Nothing to deliver: it holds its slot until a later signaled
		// completion. No event, so selective signaling saves simulation
		// work as it saves CQ polling on hardware.
		return
	}
	f.s.After(at-f.s.Now(), func() {
		q := o.q
		if q.gen != o.gen || q.d.dead {
			return
		}
		if st != Success {
			f.stats.Failed++
			q.state = Err
		}
		if !o.w.Signaled && st == Success {
			return // holds its slot until a later signaled completion
		}
		q.freed = max(q.freed, o.seq)
		wc := WC{ID: o.w.ID, Peer: q.peer, Channel: q.ch, Op: o.w.Op, Status: st}
		if st == Success {
			wc.Len = opLen(o.w)
			switch {
			case o.w.Op == Read:
				copy(o.w.Local, data)
			case o.w.Op.atomic():
				wc.Value = binary.LittleEndian.Uint64(data)
				copy(o.w.Local, data)
			}
		}
		f.deliver(q.d, wc)
	})
}
