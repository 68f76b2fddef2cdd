package checker

import (
	"context"
	"errors"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
)

// budget is the time, memory and cancellation shared by every porcupine run
// of one call: it trips when the context is done, the timeout passes, or
// the heap grows past a limit. Porcupine cannot be given a context and its
// memory grows without bound on a hard history, so models built for a
// budget refuse every step once it has tripped (see kvModelStop), and
// verdicts reached after that are read as Unknown.
type budget struct {
	tripped atomic.Bool
	why     atomic.Pointer[string]
	release []func() bool
	quit    chan struct{}
}

// Reasons a budget trips, as reported in Report.Stopped.
const (
	stoppedTimeout   = "timeout"
	stoppedMemory    = "memory limit"
	stoppedCancelled = "cancelled"
)

// heapPoll is how often a budget with a heap limit samples the heap.
const heapPoll = 20 * time.Millisecond

func newBudget(ctx context.Context, timeout time.Duration, maxHeap uint64) *budget {
	b := &budget{quit: make(chan struct{})}
	b.release = append(b.release, context.AfterFunc(ctx, func() {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			b.trip(stoppedTimeout)
		} else {
			b.trip(stoppedCancelled)
		}
	}))
	if timeout > 0 {
		t := time.AfterFunc(timeout, func() { b.trip(stoppedTimeout) })
		b.release = append(b.release, t.Stop)
	}
	if maxHeap > 0 {
		sample := []metrics.Sample{{Name: heapMetric}}
		if heapOver(sample, maxHeap) {
			b.trip(stoppedMemory)
		}
		go b.watchHeap(sample, maxHeap)
	}
	if ctx.Err() != nil { // AfterFunc would trip it, but asynchronously
		b.trip(stoppedCancelled)
	}
	return b
}

// heapMetric is the memory the heap's objects take: live ones, and dead
// ones not yet swept.
const heapMetric = "/memory/classes/heap/objects:bytes"

// heapOver reports whether the heap takes more than max bytes.
func heapOver(sample []metrics.Sample, max uint64) bool {
	metrics.Read(sample)
	return sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > max
}

// watchHeap trips the budget when the heap takes more than max bytes.
func (b *budget) watchHeap(sample []metrics.Sample, max uint64) {
	t := time.NewTicker(heapPoll)
	defer t.Stop()
	for {
		if heapOver(sample, max) {
			b.trip(stoppedMemory)
			return
		}
		select {
		case <-b.quit:
			return
		case <-t.C:
		}
	}
}

func (b *budget) trip(why string) {
	b.why.CompareAndSwap(nil, &why)
	b.tripped.Store(true)
}

// done reports whether the budget has run out.
func (b *budget) done() bool { return b.tripped.Load() }

// stopped says why the budget ran out, or "".
func (b *budget) stopped() string {
	if p := b.why.Load(); p != nil {
		return *p
	}
	return ""
}

// close releases the timer, the context hook and the heap watcher.
func (b *budget) close() {
	for _, f := range b.release {
		f()
	}
	close(b.quit)
}

// skipped is the verdict of a partition that was never checked because an
// earlier partition was already illegal.
const skipped Verdict = ""

// checkOne runs porcupine on one partition with a model built for stop, and
// turns a verdict reached after stop tripped into Unknown: refusing steps can
// only make a legal history look illegal, never the reverse, so Ok stays Ok.
func checkOne(newModel func(stop func() bool) porcupine.Model, ops []porcupine.Operation, stop func() bool) Verdict {
	res := porcupine.CheckOperationsTimeout(newModel(stop), ops, 0)
	if res == porcupine.Ok {
		return Ok
	}
	if stop() {
		return Unknown
	}
	return Illegal
}

// checkPartitions checks partitions 0..n-1 with check, on GOMAXPROCS
// workers, and returns a verdict per partition. Checking partitions here
// rather than through porcupine's Partition tells which partitions are
// illegal, and lets the search stop early: unless all is set, once
// partition i is illegal the partitions after i are abandoned (their
// verdict is skipped), while those before i still finish. The result is
// then the same on every run: the first illegal partition in order, and no
// more. check must return Unknown, not Illegal, once stop says so.
func checkPartitions(n int, b *budget, all bool, check func(i int, stop func() bool) Verdict) []Verdict {
	verdicts := make([]Verdict, n)
	abandon := make([]atomic.Bool, n)
	var mu sync.Mutex
	limit := n // partitions after limit are abandoned
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if abandon[i].Load() {
					continue
				}
				if b.done() {
					verdicts[i] = Unknown
					continue
				}
				v := check(i, func() bool { return abandon[i].Load() || b.done() })
				if v == Unknown && abandon[i].Load() && !b.done() {
					continue // abandoned, not timed out
				}
				verdicts[i] = v
				if v == Illegal && !all {
					mu.Lock()
					for j := i + 1; j < limit; j++ {
						abandon[j].Store(true)
					}
					limit = min(limit, i)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if !all {
		// Partitions after the first illegal one may have finished before it
		// was found; forget them, so that the answer does not depend on
		// scheduling.
		for i, v := range verdicts {
			if v == Illegal {
				for j := i + 1; j < n; j++ {
					verdicts[j] = skipped
				}
				break
			}
		}
	}
	return verdicts
}
