package sim_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/sim"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// beat is a minimal RDMA protocol: every node bumps a heartbeat word in
// its own region every 10 µs, and node 1.1 reads every peer's heartbeat
// with one-sided READs, reconnecting after errors.
type beat struct {
	env  paxi.Env
	dev  rdma.Device
	mr   rdma.MR
	qps  map[paxi.ID]rdma.QP
	seen map[paxi.ID]uint64      // last heartbeat read per peer
	last map[paxi.ID]rdma.Status // last READ status per peer
	buf  map[paxi.ID][]byte
}

type tick struct{}

func (tick) String() string { return "tick" }

func newBeat(env paxi.Env) (paxi.Replica, error) {
	dev, err := rdma.From(env)
	if err != nil {
		return nil, err
	}
	b := &beat{env: env, dev: dev, qps: map[paxi.ID]rdma.QP{}, seen: map[paxi.ID]uint64{},
		last: map[paxi.ID]rdma.Status{}, buf: map[paxi.ID][]byte{}}
	if b.mr, err = dev.Register(64, rdma.RemoteRead); err != nil {
		return nil, err
	}
	for _, p := range env.Peers() {
		if p == env.ID() {
			continue
		}
		q, err := dev.QP(p, 0)
		if err != nil {
			return nil, err
		}
		if err := q.Connect(rdma.RemoteRead); err != nil {
			return nil, err
		}
		b.qps[p], b.buf[p] = q, make([]byte, 8)
	}
	env.After(10*time.Microsecond, tick{})
	return b, nil
}

func (b *beat) Step(from paxi.ID, m paxi.Message) error {
	switch m := m.(type) {
	case tick:
		b.mr.Store64(0, b.mr.Load64(0)+1)
		if b.env.ID() == paxi.MustID("1.1") {
			for _, p := range b.env.Peers() {
				if q := b.qps[p]; q != nil && q.State() == rdma.RTS && q.Outstanding() == 0 {
					if err := q.Post(rdma.WR{ID: 1, Op: rdma.Read, Local: b.buf[p], RKey: rdma.FirstRKey, Signaled: true}); err != nil {
						return err
					}
				}
			}
		}
		b.env.After(10*time.Microsecond, tick{})
	case rdma.WC:
		b.last[m.Peer] = m.Status
		if m.Status == rdma.Success {
			b.seen[m.Peer] = binary.LittleEndian.Uint64(b.buf[m.Peer])
		} else if q := b.qps[m.Peer]; q.State() == rdma.Err {
			q.Reset()
			q.Connect(rdma.RemoteRead)
		}
	case rdma.Event:
		if m.Kind == rdma.QPFatal {
			q := b.qps[m.Peer]
			q.Reset()
			q.Connect(rdma.RemoteRead)
		}
	case rdma.Changed:
	case paxi.Request:
	default:
		return fmt.Errorf("beat: unexpected %v", m)
	}
	return nil
}

// Durable makes beat crash-recoverable when its Protocol has Recover: it
// keeps nothing.
func (b *beat) Durable() any { return nil }

func beatProtocol() paxi.Protocol {
	return paxi.Protocol{Name: "beat", New: newBeat, RDMA: true}
}

func beatCluster(t *testing.T, p paxi.Protocol) *sim.Cluster {
	t.Helper()
	c, err := sim.New(config(3, 1), p, sim.LAN(1))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A protocol that needs RDMA fails fast without it, naming the node.
func TestRDMAMissingFailsFast(t *testing.T) {
	p := beatProtocol()
	p.RDMA = false
	_, err := sim.New(config(3, 1), p, sim.LAN(1))
	if !errors.Is(err, rdma.ErrNoRDMA) {
		t.Fatalf("New without RDMA: %v, want an error wrapping rdma.ErrNoRDMA", err)
	}
}

// Protocol.RDMA gives every node a device; a paused node's memory stays
// readable but its heartbeat stops; a crash of a crash-stop protocol makes
// it unreachable until it restarts, memory intact.
func TestRDMAPauseAndCrashStop(t *testing.T) {
	c := beatCluster(t, beatProtocol())
	if c.Fabric() == nil {
		t.Fatal("Protocol.RDMA did not give the cluster a fabric")
	}
	one, two := paxi.MustID("1.1"), paxi.MustID("1.2")
	r := c.Replica(one).(*beat)
	c.RunFor(2 * time.Millisecond)
	h1 := r.seen[two]
	c.RunFor(100 * time.Microsecond)
	if h2 := r.seen[two]; h1 == 0 || h2 <= h1 || r.last[two] != rdma.Success {
		t.Fatalf("running: heartbeat of %v read as %d then %d (%v)", two, h1, h2, r.last[two])
	}
	c.SetDown(two, true)
	c.RunFor(100 * time.Microsecond)
	p1 := r.seen[two]
	c.RunFor(200 * time.Microsecond)
	if p2 := r.seen[two]; p2 != p1 || r.last[two] != rdma.Success {
		t.Fatalf("paused: heartbeat %d then %d, last read %v: want reads served and the value frozen", p1, p2, r.last[two])
	}
	c.SetDown(two, false)
	c.RunFor(100 * time.Microsecond)
	if r.seen[two] <= p1 {
		t.Fatalf("resumed: heartbeat %d, want above %d", r.seen[two], p1)
	}

	c.Crash(two) // crash-stop: unreachable
	rc := rdma.CX5EDR1Switch().RCTimeout()
	c.RunFor(rc + time.Millisecond)
	if r.last[two] != rdma.RetryExceeded {
		t.Fatalf("crash-stop crash: last read %v after %v, want %v", r.last[two], rc, rdma.RetryExceeded)
	}
	before := r.seen[two]
	if err := c.Restart(two); err != nil {
		t.Fatal(err)
	}
	// A READ posted just before the restart still fails after the RC
	// timeout (reachability is decided at its first attempt); then 1.1
	// reconnects.
	c.RunFor(rc + 2*time.Millisecond)
	if r.last[two] != rdma.Success || r.seen[two] <= before {
		t.Fatalf("after restart: %v, heartbeat %d (was %d): want reads again, memory kept", r.last[two], r.seen[two], before)
	}
}

// With Recover, a crash is a host crash: memory gone, and the recovered
// replica starts on a new, empty device that peers reconnect to.
func TestRDMAHostCrash(t *testing.T) {
	p := beatProtocol()
	p.Recover = func(env paxi.Env, _ any) (paxi.Replica, error) { return newBeat(env) }
	one, two := paxi.MustID("1.1"), paxi.MustID("1.2")
	c := beatCluster(t, p)
	c.RunFor(20 * time.Millisecond)
	r := c.Replica(one).(*beat)
	before := r.seen[two]
	if before < 1000 {
		t.Fatalf("heartbeat of %v read as %d after 20ms, want about 2000", two, before)
	}
	c.Crash(two)
	if c.Fabric().Up(two) {
		t.Fatal("crashed host still up")
	}
	c.RunFor(rdma.CX5EDR1Switch().RCTimeout() + time.Millisecond)
	if r.last[two] != rdma.RetryExceeded {
		t.Fatalf("host crash: last read %v, want %v", r.last[two], rdma.RetryExceeded)
	}
	if err := c.Restart(two); err != nil {
		t.Fatal(err)
	}
	restarted := c.Now()
	c.RunFor(rdma.CX5EDR1Switch().RCTimeout() + 5*time.Millisecond)
	// The new counter started from zero at the restart: 1999 ticks more
	// would mean the old memory survived.
	limit := uint64((c.Now()-restarted)/(10*time.Microsecond)) + 1
	if r.last[two] != rdma.Success || r.seen[two] > limit || r.seen[two] == 0 {
		t.Fatalf("after restart: %v, heartbeat %d: want reads of the new counter, in (0, %d]", r.last[two], r.seen[two], limit)
	}
}

// A simulated RDMA run is a function of its seed.
func TestRDMASameSeedSameTrace(t *testing.T) {
	hash := func(seed uint64) uint64 {
		c, err := sim.New(config(3, 1), beatProtocol(), sim.LAN(seed))
		if err != nil {
			t.Fatal(err)
		}
		h := fnv.New64a()
		c.Trace = func(at time.Duration, from, to paxi.ID, m paxi.Message) { fmt.Fprintln(h, at, from, to, m) }
		c.RunFor(3 * time.Millisecond)
		return h.Sum64()
	}
	if hash(5) != hash(5) {
		t.Fatal("seed 5 twice traced differently")
	}
	if hash(5) == hash(6) {
		t.Fatal("seeds 5 and 6 traced the same")
	}
}
