package transport

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ailidani/paxi-style/paxi"
)

// num is the test message: a number.
type num int

func (n num) String() string { return fmt.Sprintf("num(%d)", int(n)) }

var (
	idA = paxi.NewID(1, 1)
	idB = paxi.NewID(1, 2)
	idC = paxi.NewID(2, 1)
)

// faultyNet is three nodes on a ChanNetwork, each behind a Faulty. Build
// it inside a synctest bubble so fault durations and delays run on the
// bubble's fake clock.
type faultyNet struct {
	t     *testing.T
	nodes map[paxi.ID]*Faulty
}

func newFaultyNet(t *testing.T) *faultyNet {
	n := NewChanNetwork()
	ids := []paxi.ID{idA, idB, idC}
	fn := &faultyNet{t: t, nodes: map[paxi.ID]*Faulty{}}
	for i, id := range ids {
		tr, err := n.Join(id, ids, Options{Logger: discardLogger, QueueSize: 4096})
		if err != nil {
			t.Fatal(err)
		}
		fn.nodes[id] = NewFaulty(tr, id, uint64(i+1))
	}
	return fn
}

func (fn *faultyNet) close() {
	for _, f := range fn.nodes {
		if err := f.Close(); err != nil {
			fn.t.Error(err)
		}
	}
}

func (fn *faultyNet) send(from, to paxi.ID, ms ...int) {
	fn.t.Helper()
	for _, m := range ms {
		if err := fn.nodes[from].Send(to, num(m)); err != nil {
			fn.t.Fatalf("%v.Send(%v, %d): %v", from, to, m, err)
		}
	}
}

// got waits until every goroutine in the bubble is blocked, then returns
// what node id has received since the last call, as "from:n" strings.
func (fn *faultyNet) got(id paxi.ID) []string {
	synctest.Wait()
	var out []string
	for {
		select {
		case env := <-fn.nodes[id].Recv():
			out = append(out, fmt.Sprintf("%v:%d", env.From, env.Msg.(num)))
		default:
			return out
		}
	}
}

func (fn *faultyNet) expect(id paxi.ID, want ...string) {
	fn.t.Helper()
	if got := fn.got(id); !slices.Equal(got, want) {
		fn.t.Fatalf("node %v received %q, want %q", id, got, want)
	}
}

func (fn *faultyNet) expectFaults(id paxi.ID, want ...string) {
	fn.t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := fn.nodes[id].Faults(); !slices.Equal(got, want) {
		fn.t.Fatalf("node %v faults %q, want %q", id, got, want)
	}
}

func TestFaultyNoFaultsDelivers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFaultyNet(t)
		defer fn.close()
		fn.send(idA, idB, 1, 2)
		fn.send(idA, idA, 3)
		fn.expect(idB, "1.1:1", "1.1:2")
		fn.expect(idA, "1.1:3")
		fn.expectFaults(idA)
	})
}

func TestFaultyCrashDropsBothWays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFaultyNet(t)
		defer fn.close()
		fn.nodes[idA].Crash(time.Second)
		fn.expectFaults(idA, "crash for 1s")
		fn.send(idA, idB, 1)
		fn.send(idA, idA, 2)
		fn.send(idB, idA, 3)
		fn.send(idC, idB, 4) // not involving A: unaffected
		fn.expect(idB, "2.1:4")
		fn.expect(idA)

		time.Sleep(time.Second)
		synctest.Wait() // for the expiry timer's goroutine
		fn.expectFaults(idA)
		if fn.nodes[idA].faults.Load() != nil {
			t.Fatal("fault table not cleared after the crash expired: Send stays on the slow path")
		}
		fn.send(idA, idB, 5)
		fn.send(idB, idA, 6)
		fn.expect(idB, "1.1:5")
		fn.expect(idA, "1.2:6")
	})
}

func TestFaultyCrashUntilHeal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFaultyNet(t)
		defer fn.close()
		fn.nodes[idA].Crash(0)
		time.Sleep(time.Hour)
		fn.expectFaults(idA, "crash until heal")
		fn.send(idB, idA, 1)
		fn.expect(idA)
		fn.nodes[idA].Heal()
		fn.expectFaults(idA)
		fn.send(idB, idA, 2)
		fn.expect(idA, "1.2:2")
	})
}

func TestFaultyDropIsOneWay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFaultyNet(t)
		defer fn.close()
		fn.nodes[idA].Drop(idB, 0)
		fn.expectFaults(idA, "drop 1.2 until heal")
		fn.send(idA, idB, 1)
		fn.send(idB, idA, 2)
		fn.send(idA, idC, 3)
		fn.expect(idB)
		fn.expect(idA, "1.2:2")
		fn.expect(idC, "1.1:3")
		fn.nodes[idA].Heal()
		fn.send(idA, idB, 4)
		fn.expect(idB, "1.1:4")
	})
}

func TestFaultyDropExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFaultyNet(t)
		defer fn.close()
		fn.nodes[idA].Drop(idB, 50*time.Millisecond)
		fn.send(idA, idB, 1)
		fn.expect(idB)
		time.Sleep(49 * time.Millisecond)
		fn.send(idA, idB, 2)
		fn.expect(idB)
		time.Sleep(time.Millisecond)
		fn.send(idA, idB, 3)
		fn.expect(idB, "1.1:3")
		if fn.nodes[idA].faults.Load() != nil {
			t.Fatal("fault table not cleared after the drop expired")
		}
	})
}

func TestFaultyFlaky(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFaultyNet(t)
		defer fn.close()
		a := fn.nodes[idA]

		a.Flaky(idB, 1, 0)
		fn.expectFaults(idA, "flaky 1.2 p=1 until heal")
		for i := range 100 {
			fn.send(idA, idB, i)
		}
		fn.expect(idB)

		a.Flaky(idB, 0, 0)
		fn.expectFaults(idA)
		for i := range 100 {
			fn.send(idA, idB, i)
		}
		if got := len(fn.got(idB)); got != 100 {
			t.Fatalf("p=0: %d of 100 delivered", got)
		}

		a.Flaky(idB, 0.3, time.Minute)
		const n = 2000
		for i := range n {
			fn.send(idA, idB, i)
		}
		got := fn.got(idB)
		if lost := n - len(got); lost < n*25/100 || lost > n*35/100 {
			t.Fatalf("p=0.3: lost %d of %d", lost, n)
		}
		if !slices.IsSortedFunc(got, func(x, y string) int {
			var a, b int
			fmt.Sscanf(x, "1.1:%d", &a)
			fmt.Sscanf(y, "1.1:%d", &b)
			return a - b
		}) {
			t.Fatal("flaky link reordered messages")
		}
		fn.send(idA, idC, 1) // other links unaffected
		fn.expect(idC, "1.1:1")
	})
}

func TestFaultySlowDelays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFaultyNet(t)
		defer fn.close()
		fn.nodes[idA].Slow(idB, 100*time.Millisecond, time.Second)
		fn.expectFaults(idA, "slow 1.2 +100ms for 1s")
		fn.send(idA, idB, 1, 2, 3)
		fn.send(idA, idC, 4) // other links unaffected
		fn.expect(idC, "1.1:4")
		time.Sleep(99 * time.Millisecond)
		fn.expect(idB)
		time.Sleep(time.Millisecond)
		fn.expect(idB, "1.1:1", "1.1:2", "1.1:3")
	})
}

// TestFaultySlowKeepsFIFO: neither a Heal nor a shorter delay lets a later
// message overtake an earlier, still delayed one on the same link.
func TestFaultySlowKeepsFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFaultyNet(t)
		defer fn.close()
		a := fn.nodes[idA]
		a.Slow(idB, 100*time.Millisecond, 0)
		fn.send(idA, idB, 1, 2)
		time.Sleep(10 * time.Millisecond)
		a.Slow(idB, 10*time.Millisecond, 0)
		fn.send(idA, idB, 3)
		a.Heal()
		fn.send(idA, idB, 4)
		fn.expect(idB)
		time.Sleep(89 * time.Millisecond)
		fn.expect(idB)
		time.Sleep(time.Millisecond)
		fn.expect(idB, "1.1:1", "1.1:2", "1.1:3", "1.1:4")
		if a.pending.Load() != 0 || a.faults.Load() != nil {
			t.Fatal("fast path not restored after the delay line drained")
		}
		fn.send(idA, idB, 5)
		fn.expect(idB, "1.1:5")
	})
}

func TestFaultyLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFaultyNet(t)
		defer fn.close()
		a := fn.nodes[idA]
		a.SetLatency(idB, 20*time.Millisecond)
		a.Slow(idB, 30*time.Millisecond, 0)
		fn.expectFaults(idA, "latency 1.2 20ms", "slow 1.2 +30ms until heal")
		start := time.Now()
		fn.send(idA, idB, 1)
		<-fn.nodes[idB].Recv()
		if d := time.Since(start); d != 50*time.Millisecond {
			t.Fatalf("latency + slow: delivered after %v, want 50ms", d)
		}
		a.Heal() // keeps the latency: it is configuration, not a fault
		fn.expectFaults(idA, "latency 1.2 20ms")
		start = time.Now()
		fn.send(idA, idB, 2)
		<-fn.nodes[idB].Recv()
		if d := time.Since(start); d != 20*time.Millisecond {
			t.Fatalf("latency after Heal: delivered after %v, want 20ms", d)
		}
		fn.send(idA, idA, 3) // never to self
		fn.expect(idA, "1.1:3")
		a.SetLatency(idB, 0)
		fn.expectFaults(idA)
	})
}

func TestFaultyFaultsList(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFaultyNet(t)
		defer fn.close()
		a := fn.nodes[idA]
		a.Slow(idC, 5*time.Millisecond, 2*time.Second)
		a.Flaky(idB, 0.25, 0)
		a.Drop(idC, 1500*time.Millisecond)
		a.Crash(3 * time.Second)
		a.SetLatency(idB, time.Millisecond)
		fn.expectFaults(idA,
			"crash for 3s",
			"drop 2.1 for 1.5s",
			"flaky 1.2 p=0.25 until heal",
			"latency 1.2 1ms",
			"slow 2.1 +5ms for 2s",
		)
		time.Sleep(2 * time.Second)
		fn.expectFaults(idA, "crash for 1s", "flaky 1.2 p=0.25 until heal", "latency 1.2 1ms")
	})
}

func TestFaultyClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFaultyNet(t)
		defer fn.close()
		a := fn.nodes[idA]
		a.Slow(idB, time.Second, 0)
		fn.send(idA, idB, 1) // delayed, then dropped by Close
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if err := a.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := a.Send(idB, num(2)); err == nil {
			t.Fatal("Send after Close succeeded")
		}
		if _, ok := <-a.Recv(); ok {
			t.Fatal("Recv not closed")
		}
		time.Sleep(2 * time.Second)
		fn.expect(idB)
	})
}

// TestFaultyConcurrentAdmin changes faults from several goroutines while
// others send and receive, as the admin API does; run it with -race.
func TestFaultyConcurrentAdmin(t *testing.T) {
	n := NewChanNetwork()
	ids := []paxi.ID{idA, idB}
	ta, _ := n.Join(idA, ids, Options{Logger: discardLogger, QueueSize: 64})
	tb, _ := n.Join(idB, ids, Options{Logger: discardLogger, QueueSize: 64})
	a := NewFaulty(ta, idA, 1)
	defer a.Close()
	defer tb.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for range tb.Recv() {
		}
	})
	for range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_ = a.Send(idB, num(i))
			}
		})
	}
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			switch i % 6 {
			case 0:
				a.Crash(time.Millisecond)
			case 1:
				a.Drop(idB, time.Millisecond)
			case 2:
				a.Slow(idB, 100*time.Microsecond, time.Millisecond)
			case 3:
				a.Flaky(idB, 0.5, 0)
			case 4:
				a.SetLatency(idB, time.Duration(i%3)*time.Microsecond)
			case 5:
				a.Heal()
			}
			_ = a.Faults()
		}
	})
	time.Sleep(200 * time.Millisecond)
	close(stop)
	a.Close()
	tb.Close()
	wg.Wait()
}
