package rdma

import (
	"container/heap"
	"math"
	"runtime"
	"sync/atomic"
	"time"
)

// The real-time backends (mem, shm) run the same kind of event queue as
// the sim backend, paced by the monotonic clock: an event scheduled for
// instant t runs on the pacer's goroutine once the clock has passed t, and
// runs "at" t (Now returns t while it runs), so the model's arithmetic —
// placement after completion, per-queue-pair order, chunk gaps — stays
// exactly that of the sim backend. Verb calls from replicas enter at the
// clock's current reading. Nothing goes backwards: Now is the largest of
// the instants seen so far.
//
// Waiting on a 2-core machine: Go's timers and nanosleep overshoot by
// 0.1–1 ms there, which is a thousand times the model's delays. So the
// pacer sleeps on a timer only while the next event is more than
// sleepBefore away (and wakes early for a new, earlier event), and spins
// the rest, yielding the processor between looks at the clock so that the
// replicas' goroutines keep running. A spin lasts about a microsecond for a
// placement and up to sleepBefore for the slow operations (Connect,
// permission changes); the queue's events are late by the scheduler's
// noise, typically a few microseconds, more under load: real-time results
// are emulation timings, not hardware ones.

// idleSpin is how long the pacer keeps spinning with an empty queue
// before it parks: waking a parked goroutine takes 0.1–0.5 ms on a small
// virtual machine, so under steady load (a protocol posting every few
// microseconds) the pacer stays awake and costs a share of one core.
const idleSpin = time.Millisecond

// sleepBefore is how far ahead of an event the pacer stops sleeping and
// starts spinning: more than the timers' overshoot on a loaded machine.
const sleepBefore = 2 * time.Millisecond

// spinLock is a mutex that never parks a waiting goroutine: it yields the
// processor and tries again. Its holders (an event of the pacer, a verb
// call) keep it for a microsecond or so, while waking a goroutine parked
// on a sync.Mutex takes 0.1–1 ms on a small virtual machine: the pacer
// would be that late for every event a replica's verb call collided with.
// Its atomic operations order the accesses it guards for the race
// detector as a sync.Mutex does.
type spinLock struct{ held atomic.Bool }

// Lock acquires the lock.
func (l *spinLock) Lock() {
	for !l.held.CompareAndSwap(false, true) {
		runtime.Gosched()
	}
}

// Unlock releases the lock.
func (l *spinLock) Unlock() { l.held.Store(false) }

// pacer is a Scheduler in real time. Its queue and Now are guarded by mu,
// which the backend also holds around every verb call and which the pacer
// holds while it runs an event: the backend's state has one lock.
type pacer struct {
	mu    *spinLock
	start time.Time
	now   time.Duration
	seq   uint64
	queue loopQueue
	// next is the instant of the earliest event (noEvent: none), for the
	// pacer to watch without the lock.
	next atomic.Int64
	wake chan struct{}
	done chan struct{}
	exit chan struct{}
}

var _ Scheduler = (*pacer)(nil)

// newPacer returns a running pacer whose events run holding mu.
func newPacer(mu *spinLock) *pacer {
	p := &pacer{mu: mu, start: time.Now(), wake: make(chan struct{}, 1), done: make(chan struct{}), exit: make(chan struct{})}
	p.next.Store(noEvent)
	go p.run()
	return p
}

// clock is the time since the pacer started, by the monotonic clock.
func (p *pacer) clock() time.Duration { return time.Since(p.start) }

// enter takes the lock for a verb call and moves Now up to the clock.
func (p *pacer) enter() {
	p.mu.Lock()
	p.now = max(p.now, p.clock())
}

// exit releases the lock taken by enter.
func (p *pacer) leave() { p.mu.Unlock() }

// Now implements Scheduler; call it holding mu.
func (p *pacer) Now() time.Duration { return p.now }

// After implements Scheduler; call it holding mu.
func (p *pacer) After(d time.Duration, f func()) {
	p.seq++
	heap.Push(&p.queue, loopEvent{at: p.now + max(d, 0), seq: p.seq, f: f})
	p.next.Store(int64(p.queue[0].at))
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// stop ends the pacer's goroutine; events not yet run are dropped.
func (p *pacer) stop() {
	select {
	case <-p.done:
	default:
		close(p.done)
		<-p.exit
	}
}

// noEvent is next's value for an empty queue.
const noEvent = math.MaxInt64

// run runs the events at their instants. It looks at the queue through
// next while it waits, and takes the lock only to run an event, so that
// its spinning never holds the lock a replica's verb call needs (if the
// operating system preempts a thread that holds it, everyone waits).
func (p *pacer) run() {
	defer close(p.exit)
	var timer *time.Timer
	busy := p.clock()
	for {
		select {
		case <-p.done:
			return
		default:
		}
		next, c := time.Duration(p.next.Load()), p.clock()
		switch {
		case next <= c:
			p.mu.Lock()
			for len(p.queue) > 0 && p.queue[0].at <= c {
				e := heap.Pop(&p.queue).(loopEvent)
				p.now = max(p.now, e.at)
				e.f()
			}
			if len(p.queue) > 0 {
				p.next.Store(int64(p.queue[0].at))
			} else {
				p.next.Store(noEvent)
			}
			p.mu.Unlock()
			busy = p.clock()
		case next == noEvent && c-busy >= idleSpin:
			select {
			case <-p.wake:
			case <-p.done:
				return
			}
		case next != noEvent && next-c > sleepBefore:
			if timer == nil {
				timer = time.NewTimer(next - c - sleepBefore)
			} else {
				timer.Reset(next - c - sleepBefore)
			}
			select {
			case <-timer.C:
			case <-p.wake:
				timer.Stop()
			case <-p.done:
				timer.Stop()
				return
			}
		default:
			runtime.Gosched()
		}
	}
}
