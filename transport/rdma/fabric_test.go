package rdma_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// sink records what a fabric delivers to one host.
type sink struct {
	got []paxi.Message
	on  func(m paxi.Message)
}

func (s *sink) Deliver(m paxi.Message) {
	s.got = append(s.got, m)
	if s.on != nil {
		s.on(m)
	}
}

// pair builds a two-host fabric on a loop with a 64 KiB region at b and
// a connected queue pair from a.
func pair(t testing.TB, o rdma.Options) (*rdma.Loop, rdma.QP, rdma.MR, *sink) {
	loop := &rdma.Loop{}
	f, err := rdma.NewFabric(loop, o)
	if err != nil {
		t.Fatal(err)
	}
	a, b := paxi.MustID("1.1"), paxi.MustID("1.2")
	sa := &sink{}
	da, db := f.Attach(a, sa), f.Attach(b, &sink{})
	mb, err := db.Register(1<<16, rdma.RemoteAll)
	if err != nil {
		t.Fatal(err)
	}
	qa, _ := da.QP(b, 0)
	qb, _ := db.QP(a, 0)
	if err := errors.Join(qa.Connect(rdma.RemoteAll), qb.Connect(rdma.RemoteAll)); err != nil {
		t.Fatal(err)
	}
	loop.RunUntil(func() bool { return qa.State() == rdma.RTS && qb.State() == rdma.RTS }, time.Second)
	return loop, qa, mb, sa
}

// Without jitter the model gives the round trips of PROTOCOLS.md §10.3
// for the default profile, exactly: WRITE 64 B = post + wire + bytes +
// responder + ack + poll.
func TestDefaultProfileRoundTrips(t *testing.T) {
	p := rdma.CX5EDR1Switch()
	p.Sigma, p.SpikeProbability, p.MsgRate = 0, 0, 0
	cases := []struct {
		name string
		wr   rdma.WR
		want time.Duration
	}{
		{"WRITE 64B inline", rdma.WR{Op: rdma.Write, Local: make([]byte, 64), Inline: true}, 100 + 500 + 5 + 100 + 500 + 50},
		{"WRITE 64B DMA", rdma.WR{Op: rdma.Write, Local: make([]byte, 64)}, 100 + 300 + 500 + 5 + 100 + 500 + 50},
		{"WRITE 4KB DMA", rdma.WR{Op: rdma.Write, Local: make([]byte, 4096)}, 100 + 300 + 500 + 328 + 100 + 63*5 + 500 + 50},
		{"READ 64B", rdma.WR{Op: rdma.Read, Local: make([]byte, 64)}, 100 + 500 + 500 + 500 + 5 + 50},
		{"CAS", rdma.WR{Op: rdma.CAS}, 100 + 500 + 700 + 500 + 1 + 50},
		{"FAA", rdma.WR{Op: rdma.FAA, Add: 1}, 100 + 500 + 700 + 500 + 1 + 50},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := rdma.DefaultOptions(1)
			o.Profile = p
			loop, qa, mb, sa := pair(t, o)
			w := c.wr
			w.ID, w.RKey, w.Signaled = 1, mb.RKey(), true
			start := loop.Now()
			if err := qa.Post(w); err != nil {
				t.Fatal(err)
			}
			var done time.Duration
			loop.RunUntil(func() bool {
				for _, m := range sa.got {
					if wc, ok := m.(rdma.WC); ok && wc.ID == 1 {
						done = loop.Now()
						return true
					}
				}
				return false
			}, time.Second)
			if got := done - start; got != c.want*time.Nanosecond {
				t.Fatalf("round trip %v, want %v", got, c.want*time.Nanosecond)
			}
		})
	}
}

func TestProfiles(t *testing.T) {
	for name, p := range rdma.Profiles() {
		if err := p.Validate(); err != nil || p.Name != name {
			t.Errorf("%s: %v (name %q)", name, err, p.Name)
		}
	}
	if _, err := rdma.ProfileByName("infiniband-magic"); err == nil || !strings.Contains(err.Error(), "cx5-edr-1switch") {
		t.Errorf("unknown profile: %v, want an error listing the known ones", err)
	}
	if got := rdma.CX5EDR1Switch().RCTimeout(); got < 500*time.Millisecond || got > 600*time.Millisecond {
		t.Errorf("default RC timeout %v, want 4.096µs·2^14·8 ≈ 0.54s", got)
	}
	bad := rdma.CX5EDR1Switch()
	bad.Wire, bad.SendQueue, bad.Sigma = -1, 0, 5
	err := bad.Validate()
	for _, want := range []string{"Wire", "SendQueue", "Sigma"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad profile: %v, want it to name %s", err, want)
		}
	}
	if _, err := rdma.ParsePlacement("random-chunks"); err != nil {
		t.Error(err)
	}
	if _, err := rdma.ParsePlacement("sideways"); !errors.Is(err, rdma.ErrBadOptions) {
		t.Errorf("bad placement: %v", err)
	}
}

// Local misuse is an error of Post, and posts nothing.
func TestPostMisuse(t *testing.T) {
	_, qa, mb, _ := pair(t, rdma.DefaultOptions(1))
	cases := []struct {
		wr   rdma.WR
		want error
	}{
		{rdma.WR{Op: rdma.Recv}, rdma.ErrBadWR},
		{rdma.WR{Op: rdma.CAS, Local: make([]byte, 4)}, rdma.ErrBadWR},
		{rdma.WR{Op: rdma.Write, Local: make([]byte, 1000), Inline: true}, rdma.ErrBadWR},
		{rdma.WR{Op: rdma.Read, Local: make([]byte, 8), Inline: true}, rdma.ErrBadWR},
	}
	for _, c := range cases {
		c.wr.RKey = mb.RKey()
		if err := qa.Post(rdma.WR{Op: rdma.Write, Local: make([]byte, 8)}, c.wr); !errors.Is(err, c.want) {
			t.Errorf("%v: %v, want %v", c.wr, err, c.want)
		}
	}
	if n := qa.Outstanding(); n != 0 {
		t.Fatalf("%d requests posted by failed posts", n)
	}
	if err := qa.Connect(rdma.RemoteAll); !errors.Is(err, rdma.ErrQPState) {
		t.Errorf("Connect in RTS: %v", err)
	}
}

// BenchmarkSimWrite measures the sim backend's speed: simulated 64-byte
// signaled WRITEs per second of real time, 16 in flight.
func BenchmarkSimWrite(b *testing.B) {
	loop, qa, mb, sa := pair(b, rdma.DefaultOptions(1))
	w := rdma.WR{Op: rdma.Write, Local: make([]byte, 64), RKey: mb.RKey(), Signaled: true, Inline: true}
	posted, done := 0, 0
	sa.on = func(m paxi.Message) {
		if _, ok := m.(rdma.WC); ok {
			done++
			if posted < b.N {
				posted++
				if err := qa.Post(w); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ResetTimer()
	for ; posted < min(16, b.N); posted++ {
		if err := qa.Post(w); err != nil {
			b.Fatal(err)
		}
	}
	for done < b.N && loop.Step() {
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
	b.ReportMetric(float64(loop.Now())/float64(b.N), "virtual-ns/write")
}

// Work posted on a queue pair lands after the previous work has landed
// whole, even when it would arrive first on its own (a small inline write
// behind a large DMA write): a poller that sees the second write's bytes
// always sees every chunk of the first. This is what an end pointer written
// after a log entry relies on.
func TestLaterWorkLandsAfterEarlierChunks(t *testing.T) {
	o := rdma.DefaultOptions(1)
	o.Profile.Sigma, o.Profile.SpikeProbability, o.Profile.MsgRate = 0, 0, 0
	loop, qa, mb, _ := pair(t, o)
	big := make([]byte, 4096)
	for i := range big {
		big[i] = 0xaa
	}
	small := []byte{0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb}
	if err := qa.Post(
		rdma.WR{ID: 1, Op: rdma.Write, Local: big, RemoteAddr: 0, RKey: mb.RKey()},
		rdma.WR{ID: 2, Op: rdma.Write, Local: small, RemoteAddr: 8192, RKey: mb.RKey(), Inline: true, Signaled: true},
	); err != nil {
		t.Fatal(err)
	}
	got, end := make([]byte, len(big)), make([]byte, len(small))
	for steps := 0; loop.Step(); steps++ {
		mb.Read(8192, end)
		if end[0] != 0xbb {
			continue
		}
		mb.Read(0, got)
		for i, b := range got {
			if b != 0xaa {
				t.Fatalf("after %d events the later write has landed but byte %d of the earlier one has not", steps, i)
			}
		}
		return
	}
	t.Fatal("the later write never landed")
}
