package sim_test

import (
	"fmt"
	"hash/fnv"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/fault"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/paxos"
	"github.com/ailidani/paxi-style/sim"
)

func config(n, zones int) *paxi.Config {
	cfg := paxi.DefaultConfig()
	cfg.SetLocal(n, zones, 1735, 8081)
	return cfg
}

// traceHash runs opts and hashes every delivered event.
func traceHash(t *testing.T, opts sim.Options) (uint64, *sim.Result) {
	t.Helper()
	h := fnv.New64a()
	opts.TraceLines = 1 << 20
	res, err := sim.Run(config(3, 1), paxos.Protocol(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range res.Trace {
		fmt.Fprintln(h, l)
	}
	for _, op := range res.History {
		fmt.Fprintln(h, op)
	}
	return h.Sum64(), res
}

// The same seed gives byte-identical traces and histories; another seed
// does not.
func TestSameSeedSameRun(t *testing.T) {
	opts := sim.RandomOptions(42)
	opts.Safety, opts.Liveness = 3*time.Second, 3*time.Second
	a, ra := traceHash(t, opts)
	b, _ := traceHash(t, opts)
	if a != b {
		t.Fatalf("seed 42 twice: trace hashes %x and %x", a, b)
	}
	if len(ra.History) == 0 || ra.Stats.Messages == 0 {
		t.Fatalf("empty run: %+v", ra.Stats)
	}
	other := sim.RandomOptions(43)
	other.Safety, other.Liveness = 3*time.Second, 3*time.Second
	if c, _ := traceHash(t, other); c == a {
		t.Fatal("seeds 42 and 43 gave the same trace")
	}
}

// A fault schedule that knows roles runs in virtual time: the leader is
// crashed, a new one is elected, and the liveness phase passes.
func TestScheduleCrashesLeader(t *testing.T) {
	s, err := fault.Parse([]byte("at 2s crash leader\nat 4s partition 1.1 | 1.2 1.3 for 1s\nat 6s heal\n"))
	if err != nil {
		t.Fatal(err)
	}
	opts := sim.DefaultOptions(7)
	opts.Schedule = s
	c, err := sim.New(config(3, 1), paxos.Protocol(), opts.Network)
	if err != nil {
		t.Fatal(err)
	}
	c.RunFor(2 * time.Second)
	l, ok := c.Leader()
	if !ok {
		t.Fatal("no leader after 2s")
	}
	if err := s[0].Apply(c.Injector()); err != nil {
		t.Fatal(err)
	}
	if !c.Down(l) {
		t.Fatalf("leader %v not crashed", l)
	}
	c.RunFor(3 * time.Second)
	l2, ok := c.Leader()
	if !ok || l2 == l {
		t.Fatalf("leader after crashing %v: %v", l, l2)
	}
	res, err := sim.Run(config(3, 1), paxos.Protocol(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() {
		t.Fatalf("run failed:\n%s", res.Report())
	}
	if res.Stats.Crashes != 1 {
		t.Errorf("%d crashes, want 1 (the schedule's)", res.Stats.Crashes)
	}
	t.Logf("leader %v crashed, %v took over; %d operations, %+v", l, l2, len(res.History), res.Stats)
}

// A crashed Paxos node comes back from its durable state (log, ballot, and
// the store applied so far) and catches up.
func TestCrashRestartKeepsDurableState(t *testing.T) {
	c, err := sim.New(config(3, 1), paxos.Protocol(), sim.LAN(3))
	if err != nil {
		t.Fatal(err)
	}
	c.RunFor(2 * time.Second)
	for i := range 10 {
		c.Submit(paxi.MustID("1.1"), paxi.Command{Op: paxi.Put, Key: "k", Value: []byte(fmt.Sprint(i))})
		c.RunFor(50 * time.Millisecond)
	}
	c.RunFor(time.Second)
	n3 := paxi.MustID("1.3")
	before := len(c.Store(n3).History("k"))
	c.Crash(n3)
	if err := c.Restart(n3); err != nil {
		t.Fatal(err)
	}
	if got := len(c.Store(n3).History("k")); got != before || before != 10 {
		t.Fatalf("after restart node 1.3 has %d versions of k, had %d (want 10)", got, before)
	}
}

// With the aws5 WAN preset, a write from the zone of the leader takes about
// one RTT to the nearest majority.
func TestWANDelays(t *testing.T) {
	cfg := config(5, 5)
	cfg.WAN = &paxi.WAN{Preset: "aws5"}
	c, err := sim.New(cfg, paxos.Protocol(), sim.Network{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	c.RunFor(5 * time.Second)
	l, ok := c.Leader()
	if !ok {
		t.Fatal("no leader")
	}
	start := c.Now()
	h := c.Submit(l, paxi.Command{Op: paxi.Put, Key: "k", Value: []byte("v")})
	if _, ok := c.Await(5*time.Second, h); !ok {
		t.Fatal("no reply")
	}
	took := c.Now() - start
	// The leader needs 2 other acceptors: the second-closest zone's RTT.
	m := paxi.Presets["aws5"][l.Zone()-1]
	rtts := append([]time.Duration(nil), m...)
	for i := range rtts {
		for j := i + 1; j < len(rtts); j++ {
			if rtts[j] < rtts[i] {
				rtts[i], rtts[j] = rtts[j], rtts[i]
			}
		}
	}
	want := rtts[2] // rtts[0] is the leader's own zone (0)
	if took < want || took > want+10*time.Millisecond {
		t.Fatalf("write at leader %v took %v, want about %v", l, took, want)
	}
}

func BenchmarkSimulatedEvents(b *testing.B) {
	opts := sim.RandomOptions(1)
	opts.Safety, opts.Liveness = 5*time.Second, 5*time.Second
	var events uint64
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		opts.Network.Seed = uint64(i)
		res, err := sim.Run(config(5, 1), paxos.Protocol(), opts)
		if err != nil {
			b.Fatal(err)
		}
		events += res.Stats.Events
	}
	b.ReportMetric(float64(events)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkVirtualHour simulates one hour of a 5-node Paxos cluster under
// faults with three clients; the wall time per op is the figure.
func BenchmarkVirtualHour(b *testing.B) {
	for b.Loop() {
		opts := sim.RandomOptions(11)
		opts.Faults = sim.Faults{CrashProbability: 0.002, CrashTime: 2 * time.Second,
			PartitionProbability: 0.005, PartitionTime: 2 * time.Second, LinkProbability: 0.01,
			LinkTime: time.Second, SlowDelay: 50 * time.Millisecond, FlakyLoss: 0.3}
		opts.Network.Loss = 0.01
		opts.Workload = sim.Workload{Clients: 3, Keys: 10, WriteRatio: 0.5, Think: 100 * time.Millisecond, Timeout: 2 * time.Second}
		opts.Safety, opts.Liveness = time.Hour, 10*time.Second
		res, err := sim.Run(config(5, 1), paxos.Protocol(), opts)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.Stats.Events), "events")
		b.ReportMetric(float64(len(res.History)), "ops")
	}
}
