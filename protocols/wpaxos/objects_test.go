package wpaxos

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/paxos"
	"github.com/ailidani/paxi-style/store"
)

// fakeEnv is a paxi.Env that records what a node does, for driving one
// WPaxos node by hand.
type fakeEnv struct {
	id     paxi.ID
	cfg    *paxi.Config
	now    time.Time
	rng    *rand.Rand
	store  *store.Store
	sent   []paxi.Message
	afters int
}

func newFakeEnv(id paxi.ID, cfg *paxi.Config) *fakeEnv {
	return &fakeEnv{id: id, cfg: cfg, now: time.Unix(0, 0), rng: rand.New(rand.NewPCG(1, 2)), store: store.New()}
}

func (e *fakeEnv) ID() paxi.ID                           { return e.id }
func (e *fakeEnv) Config() *paxi.Config                  { return e.cfg }
func (e *fakeEnv) Peers() []paxi.ID                      { return e.cfg.IDs() }
func (e *fakeEnv) Send(_ paxi.ID, m paxi.Message)        { e.sent = append(e.sent, m) }
func (e *fakeEnv) Broadcast(m paxi.Message)              { e.sent = append(e.sent, m) }
func (e *fakeEnv) Multicast(_ []paxi.ID, m paxi.Message) { e.sent = append(e.sent, m) }
func (e *fakeEnv) MulticastZone(_ int, m paxi.Message)   { e.sent = append(e.sent, m) }
func (e *fakeEnv) Reply(_ paxi.Request, rep paxi.Reply)  { e.sent = append(e.sent, rep) }
func (e *fakeEnv) After(time.Duration, paxi.Message) paxi.TimerID {
	e.afters++
	return paxi.TimerID(e.afters)
}
func (e *fakeEnv) Cancel(paxi.TimerID)  {}
func (e *fakeEnv) Now() time.Time       { return e.now }
func (e *fakeEnv) Rand() *rand.Rand     { return e.rng }
func (e *fakeEnv) Store() *store.Store  { return e.store }
func (e *fakeEnv) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func testConfig() *paxi.Config {
	cfg := paxi.DefaultConfig()
	cfg.Protocol = "wpaxos"
	cfg.SetLocal(3, 3, 1735, 8081)
	return cfg
}

func mustNode(t testing.TB, env paxi.Env) *WPaxos {
	t.Helper()
	w, err := newWPaxos(env)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// A thousand objects with pending work share the node's one runtime timer:
// their Paxos instances' timers go on the node's list, and one tick fires
// them all.
func TestObjectTimersShareOneRuntimeTimer(t *testing.T) {
	env := newFakeEnv(paxi.MustID("1.1"), testConfig())
	w := mustNode(t, env)
	for i := range 1000 {
		cmd := paxi.Command{Op: paxi.Put, Key: fmt.Sprint("k", i), Value: []byte("v"), ClientID: "c", CommandID: uint64(i)}
		if err := w.Step(w.id, paxi.Request{Command: cmd, Node: w.id, Handle: uint64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if w.Objects() != 1000 || len(w.timers) != 1000 {
		t.Fatalf("%d objects, %d object timers; want 1000 and 1000", w.Objects(), len(w.timers))
	}
	if env.afters != 1 {
		t.Fatalf("%d runtime timers for 1000 objects, want 1 (the node's tick)", env.afters)
	}
	env.now = env.now.Add(time.Duration(env.cfg.Heartbeat))
	if err := w.Step(w.id, tick{}); err != nil {
		t.Fatal(err)
	}
	if env.afters != 2 || len(w.timers) != 1000 {
		t.Fatalf("after a tick: %d runtime timers set in all, %d object timers; want 2 and 1000 (each object re-armed its own)", env.afters, len(w.timers))
	}
}

// Check finds two nodes that committed one slot of an object differently.
func TestCheckFindsDivergentSlot(t *testing.T) {
	cfg := testConfig()
	nodes := map[paxi.ID]paxi.Replica{}
	for i, v := range []string{"a", "b"} {
		id := cfg.IDs()[i]
		w := mustNode(t, newFakeEnv(id, cfg))
		b := paxi.NewBallot(1, cfg.IDs()[2])
		cmd := paxi.Command{Op: paxi.Put, Key: "x", Value: []byte(v)}
		if err := w.Step(cfg.IDs()[2], Commit{Key: "x", P3: paxos.P3{Ballot: b, Slot: 0, Commands: []paxi.Command{cmd}}}); err != nil {
			t.Fatal(err)
		}
		nodes[id] = w
	}
	err := Check(nodes)
	if err == nil || !strings.Contains(err.Error(), `object "x" slot 0`) {
		t.Fatalf("Check = %v, want the divergent slot", err)
	}
	delete(nodes, cfg.IDs()[1])
	if err := Check(nodes); err != nil {
		t.Fatalf("one node: %v", err)
	}
}

// BenchmarkIdleObject reports what an object costs on a node that has seen
// one committed write to it: the Paxos instance, its one-slot log and the
// node's bookkeeping.
func BenchmarkIdleObject(b *testing.B) {
	cfg := testConfig()
	const n = 10000
	var before, after runtime.MemStats
	for range b.N {
		env := newFakeEnv(paxi.MustID("2.1"), cfg)
		w := mustNode(b, env)
		owner := paxi.MustID("1.1")
		bal := paxi.NewBallot(1, owner)
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range n {
			key := fmt.Sprint("k", i)
			cmd := paxi.Command{Op: paxi.Put, Key: key, Value: []byte("v"), ClientID: "c", CommandID: uint64(i)}
			_ = w.Step(owner, Accept{Key: key, P2a: paxos.P2a{Ballot: bal, Slot: 0, Commands: []paxi.Command{cmd}}})
			_ = w.Step(owner, Commit{Key: key, P3: paxos.P3{Ballot: bal, Slot: 0}})
		}
		env.sent = nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/object")
		runtime.KeepAlive(w)
	}
}
