package rdmatest

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// Backend is a real-time fabric (mem, or shm hosts in one process) as the
// suite drives it: hosts attached by ID, crashed and restarted.
type Backend interface {
	// Attach adds host id; its device's messages go to h.
	Attach(id paxi.ID, h rdma.Host) rdma.Device
	// Device is the host's current device, nil while crashed.
	Device(id paxi.ID) rdma.Device
	// Crash takes the host down (memory gone); Restart brings it back
	// with a new device.
	Crash(id paxi.ID)
	Restart(id paxi.ID) rdma.Device
	// Close stops the fabric.
	Close() error
}

// RealTime is the Net of a real-time backend with hosts 1.1 ... 1.n. Its
// devices deliver from their own goroutines; the net queues the messages
// and runs the handlers on the goroutine that calls RunUntil (the test's),
// in delivery order per host, so handlers and conditions never run at
// the same time and a handler may post work.
func RealTime(b Backend, n int) Net {
	r := &rtNet{b: b, start: time.Now(), signal: make(chan struct{}, 1),
		pending: map[paxi.ID][]paxi.Message{}, paused: map[paxi.ID]bool{},
		handler: map[paxi.ID]func(paxi.Message){}, inbox: map[paxi.ID][]paxi.Message{}}
	for i := 1; i <= n; i++ {
		id := paxi.NewID(1, i)
		r.ids = append(r.ids, id)
		b.Attach(id, rtHost{r, id})
	}
	return r
}

type rtNet struct {
	b      Backend
	ids    []paxi.ID
	start  time.Time
	signal chan struct{}

	// waiting counts the messages in pending, so that RunUntil's spin
	// looks at it without taking mu: a lock the devices' goroutines must
	// wait for is parked, and waking a parked goroutine takes as long as a
	// sleep (0.1 ms and more on a small virtual machine).
	waiting atomic.Int64
	mu      sync.Mutex // guards pending and paused: devices deliver from their goroutines
	pending map[paxi.ID][]paxi.Message
	paused  map[paxi.ID]bool

	// Only on the test's goroutine.
	handler map[paxi.ID]func(paxi.Message)
	inbox   map[paxi.ID][]paxi.Message
}

type rtHost struct {
	r  *rtNet
	id paxi.ID
}

func (h rtHost) Deliver(m paxi.Message) {
	h.r.mu.Lock()
	h.r.pending[h.id] = append(h.r.pending[h.id], m)
	h.r.waiting.Add(1)
	h.r.mu.Unlock()
	select {
	case h.r.signal <- struct{}{}:
	default:
	}
}

func (r *rtNet) IDs() []paxi.ID                            { return r.ids }
func (r *rtNet) Device(id paxi.ID) rdma.Device             { return r.b.Device(id) }
func (r *rtNet) Handle(id paxi.ID, f func(m paxi.Message)) { r.handler[id] = f }
func (r *rtNet) Inbox(id paxi.ID) []paxi.Message           { return r.inbox[id] }
func (r *rtNet) Now() time.Duration                        { return time.Since(r.start) }
func (r *rtNet) Deterministic() bool                       { return false }
func (r *rtNet) Restart(id paxi.ID)                        { r.b.Restart(id) }

func (r *rtNet) Crash(id paxi.ID) {
	r.b.Crash(id)
	r.mu.Lock()
	r.waiting.Add(-int64(len(r.pending[id])))
	r.pending[id] = nil
	r.mu.Unlock()
}

func (r *rtNet) Pause(id paxi.ID, paused bool) {
	r.mu.Lock()
	r.paused[id] = paused
	r.mu.Unlock()
}

// drain runs the handlers of the messages delivered so far to hosts that
// are not paused, and reports whether there were any.
func (r *rtNet) drain() bool {
	if r.waiting.Load() == 0 {
		return false
	}
	any := false
	for _, id := range r.ids {
		r.mu.Lock()
		if r.paused[id] {
			r.mu.Unlock()
			continue
		}
		ms := r.pending[id]
		r.pending[id] = nil
		r.waiting.Add(-int64(len(ms)))
		r.mu.Unlock()
		for _, m := range ms {
			any = true
			r.inbox[id] = append(r.inbox[id], m)
			if f := r.handler[id]; f != nil {
				f(m)
			}
		}
	}
	return any
}

// spinFor is how long RunUntil keeps looking at the clock without
// sleeping after the last delivery: conditions on Now need microsecond
// precision, which a sleep (0.1–1 ms late) cannot give.
const spinFor = 2 * time.Millisecond

// RunUntil implements Net: it handles deliveries and checks cond until
// cond holds or limit has passed.
func (r *rtNet) RunUntil(cond func() bool, limit time.Duration) bool {
	end := r.Now() + limit
	active := r.Now()
	for {
		if r.drain() {
			active = r.Now()
		}
		if cond() {
			// What the devices delivered before cond held happened
			// before it: the replicas see it before the test looks, as
			// in the sim backend, where delivery and handling are one
			// event.
			r.drain()
			return true
		}
		now := r.Now()
		if now >= end {
			return cond()
		}
		if now-active < spinFor {
			runtime.Gosched()
			continue
		}
		select {
		case <-r.signal:
		case <-time.After(min(end-now, time.Millisecond)):
		}
	}
}

// Settle is how long the suite waits for a replica to notice a change of
// its memory: the delivery goes through goroutines that a loaded machine
// may run milliseconds late.
func (r *rtNet) Settle() time.Duration { return 5 * time.Millisecond }

// TwoSided reports whether the backend offers SEND and WRITE_WITH_IMM: a
// Backend without them has a TwoSided method that says false.
func (r *rtNet) TwoSided() bool {
	if b, ok := r.b.(interface{ TwoSided() bool }); ok {
		return b.TwoSided()
	}
	return true
}

// Close stops the backend.
func (r *rtNet) Close() error { return r.b.Close() }
