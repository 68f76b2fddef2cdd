package rdma

import (
	"container/heap"
	"time"
)

// Scheduler is the virtual clock and event queue the sim backend runs on.
// The simulator's Cluster implements it, so that every placement and
// completion is an ordinary event of the one queue of a simulated run;
// Loop implements it for tests and benchmarks of the fabric alone. Events
// at the same instant run in the order they were scheduled.
type Scheduler interface {
	// Now is the virtual time since the start.
	Now() time.Duration
	// After runs f at Now()+d.
	After(d time.Duration, f func())
}

// Loop is a minimal deterministic event loop: a Scheduler for running a
// fabric without the simulator.
type Loop struct {
	now   time.Duration
	seq   uint64
	queue loopQueue
	// Events counts the events run.
	Events uint64
}

var _ Scheduler = (*Loop)(nil)

// Now implements Scheduler.
func (l *Loop) Now() time.Duration { return l.now }

// After implements Scheduler.
func (l *Loop) After(d time.Duration, f func()) {
	l.seq++
	heap.Push(&l.queue, loopEvent{at: l.now + max(d, 0), seq: l.seq, f: f})
}

// Step runs the next event; false if there is none.
func (l *Loop) Step() bool {
	if len(l.queue) == 0 {
		return false
	}
	e := heap.Pop(&l.queue).(loopEvent)
	l.now = e.at
	l.Events++
	e.f()
	return true
}

// RunFor runs the events of the next d of virtual time.
func (l *Loop) RunFor(d time.Duration) {
	end := l.now + d
	for len(l.queue) > 0 && l.queue[0].at <= end {
		l.Step()
	}
	l.now = end
}

// RunUntil runs events until cond holds (checked after each) or limit of
// virtual time has passed, and reports whether cond held.
func (l *Loop) RunUntil(cond func() bool, limit time.Duration) bool {
	end := l.now + limit
	for !cond() {
		if len(l.queue) == 0 || l.queue[0].at > end {
			l.now = end
			return cond()
		}
		l.Step()
	}
	return true
}

type loopEvent struct {
	at  time.Duration
	seq uint64
	f   func()
}

type loopQueue []loopEvent

func (q loopQueue) Len() int { return len(q) }
func (q loopQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q loopQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *loopQueue) Push(x any)   { *q = append(*q, x.(loopEvent)) }
func (q *loopQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}
