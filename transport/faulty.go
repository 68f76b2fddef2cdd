package transport

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ailidani/paxi-style/paxi"
)

// Faulty wraps a Transport and injects network faults into it: a crash
// (nothing in or out), and per-link drops, random loss and delay. Faults
// are a wrapper, as in hashicorp/raft's fuzzy transport hooks, not flags in
// the socket code, so every transport gets them and the socket code stays
// simple. The admin REST endpoints (/crash, /drop, /slow, /flaky) call
// these methods from HTTP goroutines while the node sends.
//
// Faults act on the sending side of a link (this node's outgoing messages),
// except Crash, which also discards incoming ones. A dropped message looks
// like a lost packet: Send returns nil. Every fault has a duration after
// which it ends by itself; a duration <= 0 means until Heal.
//
// Static latency (SetLatency) is the seam for WAN emulation: a one-way
// delay per peer, set once from a zone RTT matrix, that uses the same delay
// machinery as Slow and survives Heal.
//
// Cost: with no fault and no latency set, Send is one atomic pointer load
// and one atomic counter load in front of the wrapped Send, with no mutex;
// received messages pass through one extra goroutine and channel. The
// fault table is immutable and replaced wholesale on every change
// (copy-on-write), so readers never lock.
type Faulty struct {
	inner Transport
	self  paxi.ID

	// faults is the active fault table, nil when there is none.
	faults atomic.Pointer[faultTable]
	// pending counts messages held in delay lines. While it is non-zero
	// Send takes the slow path even with no fault active, so a message
	// cannot overtake an earlier, still delayed one on its link after a
	// Heal: per-link FIFO holds across fault changes.
	pending atomic.Int64
	// rng is the state of a splitmix64 generator for Flaky, advanced
	// atomically so concurrent Sends need no lock.
	rng atomic.Uint64

	recv      chan Envelope
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu     sync.Mutex // serializes fault changes; guards the fields below
	lines  map[paxi.ID]*delayLine
	prune  *time.Timer // fires when the next fault expires
	closed bool
}

// faultTable is an immutable set of active faults. Expired windows are
// removed by prune; until then active() ignores them.
type faultTable struct {
	crash window
	links map[paxi.ID]linkFaults // by destination
}

// linkFaults are the faults on the link from this node to one peer.
type linkFaults struct {
	drop    window
	flaky   window
	p       float64 // drop probability while flaky is active
	slow    window
	delay   time.Duration // added delay while slow is active
	latency time.Duration // static one-way delay; not cleared by Heal
}

// window is a fault's lifetime. A zero until means until Heal.
type window struct {
	on    bool
	until time.Time
}

func (w window) active(now time.Time) bool {
	return w.on && (w.until.IsZero() || now.Before(w.until))
}

// newWindow returns a window starting now and lasting d (d <= 0: until Heal).
func newWindow(now time.Time, d time.Duration) window {
	if d <= 0 {
		return window{on: true}
	}
	return window{on: true, until: now.Add(d)}
}

// NewFaulty wraps t, the transport of node self. seed drives the random
// drops of Flaky, so a test that sends from one goroutine sees the same
// drops in every run. Closing the Faulty closes t.
func NewFaulty(t Transport, self paxi.ID, seed uint64) *Faulty {
	f := &Faulty{
		inner: t,
		self:  self,
		recv:  make(chan Envelope, cap(t.Recv())),
		done:  make(chan struct{}),
		lines: make(map[paxi.ID]*delayLine),
	}
	f.rng.Store(seed)
	f.wg.Go(f.forward)
	return f
}

// Send implements Transport, applying the active faults to m.
func (f *Faulty) Send(to paxi.ID, m paxi.Message) error {
	t := f.faults.Load()
	if t == nil && f.pending.Load() == 0 {
		return f.inner.Send(to, m)
	}
	return f.sendFaulty(t, to, m)
}

// Recv implements Transport. While crashed, incoming messages are dropped.
func (f *Faulty) Recv() <-chan Envelope { return f.recv }

// Close implements Transport: it closes the wrapped transport and drops
// messages still delayed.
func (f *Faulty) Close() error {
	var err error
	f.closeOnce.Do(func() {
		f.mu.Lock()
		f.closed = true
		if f.prune != nil {
			f.prune.Stop()
		}
		f.mu.Unlock()
		close(f.done)
		err = f.inner.Close()
		f.wg.Wait()
	})
	return err
}

// Crash makes the node unreachable for d: every message it sends or
// receives is dropped. d <= 0 means until Heal. Timers and client requests
// still reach the protocol: a crash here is a network crash, as in Paxi.
func (f *Faulty) Crash(d time.Duration) {
	f.update(func(t *faultTable, now time.Time) { t.crash = newWindow(now, d) })
}

// Drop drops every message from this node to node to for d (d <= 0: until
// Heal). The reverse direction is unaffected: faults are one-way, so
// asymmetric partitions can be built from them.
func (f *Faulty) Drop(to paxi.ID, d time.Duration) {
	f.updateLink(to, func(l *linkFaults, now time.Time) { l.drop = newWindow(now, d) })
}

// Slow delays each message from this node to node to by delay, for d
// (d <= 0: until Heal). Messages on the link stay in order: one sent after
// the fault ends still waits for the delayed ones before it. delay <= 0
// removes the fault.
func (f *Faulty) Slow(to paxi.ID, delay, d time.Duration) {
	f.updateLink(to, func(l *linkFaults, now time.Time) {
		if delay <= 0 {
			l.slow, l.delay = window{}, 0
			return
		}
		l.slow, l.delay = newWindow(now, d), delay
	})
}

// Flaky drops each message from this node to node to with probability p,
// for d (d <= 0: until Heal). p >= 1 drops everything; p <= 0 removes the
// fault.
func (f *Faulty) Flaky(to paxi.ID, p float64, d time.Duration) {
	f.updateLink(to, func(l *linkFaults, now time.Time) {
		if !(p > 0) { // also catches NaN
			l.flaky, l.p = window{}, 0
			return
		}
		l.flaky, l.p = newWindow(now, d), min(p, 1)
	})
}

// SetLatency sets a static one-way delay on messages from this node to
// node to, added to any Slow delay. It is meant for WAN emulation, set once
// per peer from a zone round-trip-time matrix (delay = RTT/2), so unlike
// the faults it has no duration and Heal keeps it. d <= 0 removes it.
func (f *Faulty) SetLatency(to paxi.ID, d time.Duration) {
	f.updateLink(to, func(l *linkFaults, _ time.Time) { l.latency = max(d, 0) })
}

// Heal ends every fault at once. Static latency stays. Messages already
// delayed are still delivered, in order, when their time comes.
func (f *Faulty) Heal() {
	f.update(func(t *faultTable, _ time.Time) {
		t.crash = window{}
		for id, l := range t.links {
			t.links[id] = linkFaults{latency: l.latency}
		}
	})
}

// Faults lists the active faults and latencies in a human-readable form,
// sorted, e.g. "drop 1.2 for 1.5s" or "crash until heal", for the admin API.
// It returns an empty, non-nil slice when there is none.
func (f *Faulty) Faults() []string {
	now := time.Now()
	out := []string{}
	t := f.faults.Load()
	if t == nil {
		return out
	}
	left := func(w window) string {
		if w.until.IsZero() {
			return "until heal"
		}
		return "for " + w.until.Sub(now).Round(time.Millisecond).String()
	}
	if t.crash.active(now) {
		out = append(out, "crash "+left(t.crash))
	}
	for id, l := range t.links {
		if l.drop.active(now) {
			out = append(out, fmt.Sprintf("drop %v %s", id, left(l.drop)))
		}
		if l.flaky.active(now) {
			out = append(out, fmt.Sprintf("flaky %v p=%g %s", id, l.p, left(l.flaky)))
		}
		if l.slow.active(now) {
			out = append(out, fmt.Sprintf("slow %v +%v %s", id, l.delay, left(l.slow)))
		}
		if l.latency > 0 {
			out = append(out, fmt.Sprintf("latency %v %v", id, l.latency))
		}
	}
	slices.Sort(out)
	return out
}

// sendFaulty is Send's slow path, taken when a fault table exists or
// messages are being delayed.
func (f *Faulty) sendFaulty(t *faultTable, to paxi.ID, m paxi.Message) error {
	now := time.Now()
	var l linkFaults
	if t != nil {
		if t.crash.active(now) {
			return nil
		}
		if to == f.self {
			// Link faults do not apply to a node's messages to itself.
			return f.inner.Send(to, m)
		}
		l = t.links[to]
		if l.drop.active(now) {
			return nil
		}
		if l.flaky.active(now) && f.random() < l.p {
			return nil
		}
	}
	d := l.latency
	if l.slow.active(now) {
		d += l.delay
	}
	if d <= 0 && f.pending.Load() == 0 {
		// No line holds a message that this one could overtake.
		return f.inner.Send(to, m)
	}
	return f.delay(to, m, now, d)
}

// random returns a pseudo-random number in [0, 1) (splitmix64).
func (f *Faulty) random() float64 {
	x := f.rng.Add(0x9e3779b97f4a7c15)
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// update applies change to a copy of the fault table, drops what has
// expired, publishes the result and schedules the next expiry.
func (f *Faulty) update(change func(t *faultTable, now time.Time)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	now := time.Now()
	t := &faultTable{links: map[paxi.ID]linkFaults{}}
	if old := f.faults.Load(); old != nil {
		t.crash = old.crash
		t.links = maps.Clone(old.links)
	}
	change(t, now)
	next := t.normalize(now)
	if t.crash.on || len(t.links) > 0 {
		f.faults.Store(t)
	} else {
		f.faults.Store(nil)
	}
	if !next.IsZero() {
		if f.prune == nil {
			f.prune = time.AfterFunc(next.Sub(now), f.expire)
		} else {
			f.prune.Reset(next.Sub(now))
		}
	}
}

func (f *Faulty) updateLink(to paxi.ID, change func(l *linkFaults, now time.Time)) {
	f.update(func(t *faultTable, now time.Time) {
		l := t.links[to]
		change(&l, now)
		t.links[to] = l
	})
}

// expire runs when a fault ends: dropping it from the table restores the
// lock-free fast path once nothing is left.
func (f *Faulty) expire() {
	f.update(func(*faultTable, time.Time) {})
}

// normalize removes expired faults and empty links, and returns the time
// the next remaining fault expires (zero if none does).
func (t *faultTable) normalize(now time.Time) time.Time {
	var next time.Time
	keep := func(w *window) {
		if !w.active(now) {
			*w = window{}
			return
		}
		if !w.until.IsZero() && (next.IsZero() || w.until.Before(next)) {
			next = w.until
		}
	}
	keep(&t.crash)
	for id, l := range t.links {
		keep(&l.drop)
		keep(&l.flaky)
		keep(&l.slow)
		if !l.flaky.on {
			l.p = 0
		}
		if !l.slow.on {
			l.delay = 0
		}
		if l == (linkFaults{}) {
			delete(t.links, id)
		} else {
			t.links[id] = l
		}
	}
	return next
}

// forward copies received messages to Recv, dropping them while crashed.
func (f *Faulty) forward() {
	defer close(f.recv)
	in := f.inner.Recv()
	for {
		select {
		case env, ok := <-in:
			if !ok {
				return
			}
			if t := f.faults.Load(); t != nil && t.crash.active(time.Now()) {
				continue
			}
			select {
			case f.recv <- env:
			case <-f.done:
				return
			}
		case <-f.done:
			return
		}
	}
}

// delayLine holds the delayed messages of one link in send order. Delivery
// times never decrease along the line, so a shorter delay set later does
// not reorder the link. A goroutine runs while the line is non-empty.
type delayLine struct {
	q       []delayed
	last    time.Time // delivery time of the newest message
	running bool
}

type delayed struct {
	at time.Time
	m  paxi.Message
}

// delay sends m to node to after d. A message with no delay still joins
// the line if earlier messages are waiting in it.
func (f *Faulty) delay(to paxi.ID, m paxi.Message, now time.Time, d time.Duration) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return ErrClosed
	}
	l := f.lines[to]
	if d <= 0 && (l == nil || len(l.q) == 0) {
		f.mu.Unlock()
		return f.inner.Send(to, m)
	}
	if l == nil {
		l = &delayLine{}
		f.lines[to] = l
	}
	at := now.Add(d)
	if at.Before(l.last) {
		at = l.last
	}
	l.last = at
	l.q = append(l.q, delayed{at: at, m: m})
	f.pending.Add(1)
	if !l.running {
		l.running = true
		f.wg.Go(func() { f.runLine(to, l) })
	}
	f.mu.Unlock()
	return nil
}

// runLine delivers a line's messages when they are due, until it is empty.
// The head stays in the queue until it has been handed to the wrapped
// transport, so a later undelayed Send cannot overtake it.
func (f *Faulty) runLine(to paxi.ID, l *delayLine) {
	timer := time.NewTimer(time.Duration(math.MaxInt64))
	defer timer.Stop()
	for {
		f.mu.Lock()
		if f.closed || len(l.q) == 0 {
			f.pending.Add(-int64(len(l.q)))
			l.q, l.running = nil, false
			f.mu.Unlock()
			return
		}
		head := l.q[0]
		f.mu.Unlock()
		if wait := time.Until(head.at); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-f.done:
				continue
			}
		}
		if t := f.faults.Load(); t == nil || !t.crash.active(time.Now()) {
			// An error here (a full queue) is a loss, as on a real network.
			_ = f.inner.Send(to, head.m)
		}
		f.mu.Lock()
		l.q[0] = delayed{}
		l.q = l.q[1:]
		f.pending.Add(-1)
		f.mu.Unlock()
	}
}
