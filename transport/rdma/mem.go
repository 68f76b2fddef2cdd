package rdma

import (
	"fmt"
	"slices"

	"github.com/ailidani/paxi-style/paxi"
)

// Mem is the mem backend: the NICs of the hosts of one process (the nodes
// of `paxi local`, a test) in real time.
//
// It is the sim backend's verbs engine (Fabric) on a pacer: every
// placement, chunk, completion and notification is an event of the same
// model, run once the monotonic clock reaches its instant. One lock guards
// the whole fabric: the pacer holds it while an event places bytes, and
// every verb and every MR access of a replica takes it. So the three
// backends cannot drift apart in semantics (the same code decides), the
// race detector sees every access to a region ordered by the lock (a race
// it reports is the emulator's or the caller's, never a modelled one), and
// a torn write is still visible, because the chunks of a write are
// separate events with the lock released between them. Serialising the
// NICs of one process costs nothing that matters on a small machine: an
// event is a copy of at most a chunk's worth of bookkeeping.
//
// Messages reach each host's replica through its Host, from the pacer's
// goroutine or from the replica's own verb calls, with the lock held:
// Deliver must queue the message for the replica's goroutine and return
// at once (node.Node does), never call back into the device.
type Mem struct {
	mu     spinLock
	p      *pacer
	f      *Fabric
	relays map[paxi.ID]*relay
}

// NewMem returns an empty mem fabric with options o. Close stops it.
func NewMem(o Options) (*Mem, error) {
	m := &Mem{relays: map[paxi.ID]*relay{}}
	m.p = newPacer(&m.mu)
	f, err := NewFabric(m.p, o)
	if err != nil {
		m.p.stop()
		return nil, err
	}
	m.f = f
	return m, nil
}

// Options returns the fabric's options, defaults filled.
func (m *Mem) Options() Options { return m.f.Options() }

// Stats returns what the fabric did so far.
func (m *Mem) Stats() FabricStats {
	m.p.enter()
	defer m.p.leave()
	return m.f.Stats()
}

// Declare puts hosts on the fabric before their replicas attach, so that
// the first replica to start can already create queue pairs to the
// others (node.New declares the whole cluster). Hosts already on it are
// left alone.
func (m *Mem) Declare(ids ...paxi.ID) {
	m.p.enter()
	defer m.p.leave()
	for _, id := range ids {
		if _, ok := m.relays[id]; !ok {
			r := &relay{}
			m.relays[id] = r
			m.f.Attach(id, r)
		}
	}
}

// Attach connects host id's replica h to the fabric, declaring the host
// if needed, and returns its device. Attaching a host twice panics.
func (m *Mem) Attach(id paxi.ID, h Host) Device {
	m.p.enter()
	defer m.p.leave()
	r, ok := m.relays[id]
	if !ok {
		r = &relay{}
		m.relays[id] = r
		m.f.Attach(id, r)
	}
	if r.h != nil {
		panic(fmt.Sprintf("rdma: host %v attached twice", id))
	}
	r.h = h
	return m.wrapDevice(m.f.Device(id))
}

// relay is a host's place on the fabric: its replica once attached.
// Messages before that have no replica to go to and are dropped.
type relay struct{ h Host }

func (r *relay) Deliver(msg paxi.Message) {
	if r.h != nil {
		r.h.Deliver(msg)
	}
}

// Device returns host id's device, nil while it is crashed.
func (m *Mem) Device(id paxi.ID) Device {
	m.p.enter()
	defer m.p.leave()
	return m.wrapDevice(m.f.Device(id))
}

// Crash takes host id down: its memory and queue pairs are gone, and
// operations to it fail with RetryExceeded after the RC timeout.
func (m *Mem) Crash(id paxi.ID) {
	m.p.enter()
	defer m.p.leave()
	m.f.Crash(id)
}

// Restart brings a crashed host back with a new, empty device.
func (m *Mem) Restart(id paxi.ID) Device {
	m.p.enter()
	defer m.p.leave()
	return m.wrapDevice(m.f.Restart(id))
}

// Isolate makes host id unreachable (true) or reachable again.
func (m *Mem) Isolate(id paxi.ID, isolated bool) {
	m.p.enter()
	defer m.p.leave()
	m.f.Isolate(id, isolated)
}

// Close stops the fabric's clock: nothing scheduled runs any more. Verbs
// still return, but their work never completes.
func (m *Mem) Close() error {
	m.p.stop()
	return nil
}

func (m *Mem) wrapDevice(d Device) Device {
	if d == nil {
		return nil
	}
	return memDevice{m, d}
}

// memDevice, memMR and memQP take the fabric's lock around the sim
// engine's device, region and queue pair.
type memDevice struct {
	m *Mem
	d Device
}

func (d memDevice) ID() paxi.ID      { return d.d.ID() }
func (d memDevice) Profile() Profile { return d.d.Profile() }

func (d memDevice) Register(size int, a Access) (MR, error) {
	d.m.p.enter()
	defer d.m.p.leave()
	r, err := d.d.Register(size, a)
	if err != nil {
		return nil, err
	}
	return memMR{d.m, r}, nil
}

func (d memDevice) QP(peer paxi.ID, ch int) (QP, error) {
	d.m.p.enter()
	defer d.m.p.leave()
	q, err := d.d.QP(peer, ch)
	if err != nil {
		return nil, err
	}
	return memQP{d.m, q}, nil
}

type memMR struct {
	m *Mem
	r MR
}

func (r memMR) RKey() uint32 { return r.r.RKey() }
func (r memMR) Len() int     { return r.r.Len() }

func (r memMR) Access() Access {
	r.m.p.enter()
	defer r.m.p.leave()
	return r.r.Access()
}

func (r memMR) Read(off int, p []byte) {
	r.m.p.enter()
	defer r.m.p.leave()
	r.r.Read(off, p)
}

func (r memMR) Write(off int, p []byte) {
	r.m.p.enter()
	defer r.m.p.leave()
	r.r.Write(off, p)
}

func (r memMR) Load64(off int) uint64 {
	r.m.p.enter()
	defer r.m.p.leave()
	return r.r.Load64(off)
}

func (r memMR) Store64(off int, v uint64) {
	r.m.p.enter()
	defer r.m.p.leave()
	r.r.Store64(off, v)
}

func (r memMR) Watch(off, n int) int {
	r.m.p.enter()
	defer r.m.p.leave()
	return r.r.Watch(off, n)
}

func (r memMR) Unwatch(id int) {
	r.m.p.enter()
	defer r.m.p.leave()
	r.r.Unwatch(id)
}

func (r memMR) Reregister(a Access) error {
	r.m.p.enter()
	defer r.m.p.leave()
	return r.r.Reregister(a)
}

type memQP struct {
	m *Mem
	q QP
}

func (q memQP) Peer() paxi.ID { return q.q.Peer() }
func (q memQP) Channel() int  { return q.q.Channel() }

func (q memQP) State() QPState {
	q.m.p.enter()
	defer q.m.p.leave()
	return q.q.State()
}

func (q memQP) RemoteAccess() Access {
	q.m.p.enter()
	defer q.m.p.leave()
	return q.q.RemoteAccess()
}

// Post captures every payload at post time, inline or not: the engine
// would read a non-inline one when the NIC fetches it, on the pacer's
// goroutine, and a replica that reuses the buffer before the completion
// (the bug the sim backend shows) would then be reported by the race
// detector as a data race instead. The payload that lands is the one
// posted.
func (q memQP) Post(wrs ...WR) error {
	wrs = slices.Clone(wrs) // the caller's slice stays as it was
	for i, w := range wrs {
		if carriesPayload(w.Op) && !w.Inline {
			wrs[i].Local = slices.Clone(w.Local)
		}
	}
	q.m.p.enter()
	defer q.m.p.leave()
	return q.q.Post(wrs...)
}

func (q memQP) PostRecv(id uint64, buf []byte) error {
	q.m.p.enter()
	defer q.m.p.leave()
	return q.q.PostRecv(id, buf)
}

func (q memQP) SetRemoteAccess(a Access) error {
	q.m.p.enter()
	defer q.m.p.leave()
	return q.q.SetRemoteAccess(a)
}

func (q memQP) Reset() error {
	q.m.p.enter()
	defer q.m.p.leave()
	return q.q.Reset()
}

func (q memQP) Connect(a Access) error {
	q.m.p.enter()
	defer q.m.p.leave()
	return q.q.Connect(a)
}

func (q memQP) Outstanding() int {
	q.m.p.enter()
	defer q.m.p.leave()
	return q.q.Outstanding()
}
