package rdmatest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// wait is the limit of every wait of the suite: generous, because it is
// virtual time in the sim backend and a failure only in a broken one.
const wait = 10 * time.Second

// Run runs the conformance suite (PROTOCOLS.md §10.6) against the backend
// that f builds.
func Run(t *testing.T, f Factory) {
	t.Run("Verbs", func(t *testing.T) { testVerbs(t, f) })
	t.Run("AccessErrors", func(t *testing.T) { testAccessErrors(t, f) })
	t.Run("RevokeRace", func(t *testing.T) { testRevokeRace(t, f) })
	t.Run("OrderAndTornWrites", func(t *testing.T) { testOrder(t, f) })
	t.Run("CASContention", func(t *testing.T) { testCAS(t, f) })
	t.Run("SendQueue", func(t *testing.T) { testSendQueue(t, f) })
	t.Run("HostDown", func(t *testing.T) { testHostDown(t, f) })
	t.Run("PausedProcess", func(t *testing.T) { testPaused(t, f) })
	t.Run("Determinism", func(t *testing.T) { testDeterminism(t, f) })
}

func build(t *testing.T, f Factory, n int, o rdma.Options) Net {
	t.Helper()
	net, err := f(n, o)
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// link connects channel ch between a and b, with the given responder
// rights at each end, and waits until both are in RTS.
func link(t *testing.T, net Net, a, b paxi.ID, ch int, aRights, bRights rdma.Access) (qa, qb rdma.QP) {
	t.Helper()
	qa, err := net.Device(a).QP(b, ch)
	if err != nil {
		t.Fatal(err)
	}
	qb, err = net.Device(b).QP(a, ch)
	if err != nil {
		t.Fatal(err)
	}
	if qa.State() != rdma.Reset {
		must(t, qa.Reset())
	}
	if qb.State() != rdma.Reset {
		must(t, qb.Reset())
	}
	must(t, qa.Connect(aRights))
	must(t, qb.Connect(bRights))
	if !net.RunUntil(func() bool { return qa.State() == rdma.RTS && qb.State() == rdma.RTS }, wait) {
		t.Fatalf("link %v-%v/%d: states %v, %v after %v", a, b, ch, qa.State(), qb.State(), wait)
	}
	return qa, qb
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// findWC returns the completion of work request id from peer at host at.
func findWC(net Net, at, peer paxi.ID, id uint64) (rdma.WC, bool) {
	for _, m := range net.Inbox(at) {
		if wc, ok := m.(rdma.WC); ok && wc.Peer == peer && wc.ID == id && wc.Op != rdma.Recv && wc.Op != rdma.RecvImm {
			return wc, true
		}
	}
	return rdma.WC{}, false
}

// waitWC waits for the completion of work request id posted at `at` on a
// queue pair with peer.
func waitWC(t *testing.T, net Net, at, peer paxi.ID, id uint64) rdma.WC {
	t.Helper()
	var wc rdma.WC
	if !net.RunUntil(func() bool { var ok bool; wc, ok = findWC(net, at, peer, id); return ok }, wait) {
		t.Fatalf("no completion of #%d at %v after %v; inbox %v", id, at, wait, net.Inbox(at))
	}
	return wc
}

func count[M paxi.Message](net Net, id paxi.ID, pred func(M) bool) int {
	n := 0
	for _, m := range net.Inbox(id) {
		if x, ok := m.(M); ok && pred(x) {
			n++
		}
	}
	return n
}

// pattern is n bytes of value v.
func pattern(v byte, n int) []byte { return bytes.Repeat([]byte{v}, n) }

// The basic operations: WRITE lands, READ reads, CAS and FAA return the
// old word, SEND fills a posted receive buffer, WRITE_WITH_IMM consumes
// one and carries the immediate, and a non-inline payload is read when the
// NIC fetches it while an inline one is captured at post.
func testVerbs(t *testing.T, f Factory) {
	net := build(t, f, 2, rdma.DefaultOptions(1))
	a, b := net.IDs()[0], net.IDs()[1]
	mb, err := net.Device(b).Register(4096, rdma.RemoteAll)
	must(t, err)
	qa, qb := link(t, net, a, b, 0, rdma.RemoteAll, rdma.RemoteAll)

	must(t, qa.Post(rdma.WR{ID: 1, Op: rdma.Write, Local: pattern(7, 100), RKey: mb.RKey(), RemoteAddr: 10, Signaled: true}))
	if wc := waitWC(t, net, a, b, 1); wc.Status != rdma.Success || wc.Len != 100 || wc.Op != rdma.Write {
		t.Fatalf("write: %v", wc)
	}
	got := make([]byte, 102)
	mb.Read(9, got)
	if got[0] != 0 || got[101] != 0 || !bytes.Equal(got[1:101], pattern(7, 100)) {
		t.Fatalf("write placed %v", got)
	}
	buf := make([]byte, 4)
	must(t, qa.Post(rdma.WR{ID: 2, Op: rdma.Read, Local: buf, RKey: mb.RKey(), RemoteAddr: 108, Signaled: true}))
	if wc := waitWC(t, net, a, b, 2); wc.Status != rdma.Success || !bytes.Equal(buf, []byte{7, 7, 0, 0}) {
		t.Fatalf("read: %v %v", wc, buf)
	}
	mb.Store64(64, 5)
	old := make([]byte, 8)
	must(t, qa.Post(rdma.WR{ID: 3, Op: rdma.CAS, Local: old, RKey: mb.RKey(), RemoteAddr: 64, Compare: 5, Swap: 9, Signaled: true},
		rdma.WR{ID: 4, Op: rdma.CAS, RKey: mb.RKey(), RemoteAddr: 64, Compare: 5, Swap: 11, Signaled: true},
		rdma.WR{ID: 5, Op: rdma.FAA, RKey: mb.RKey(), RemoteAddr: 64, Add: 3, Signaled: true}))
	wc3, wc4, wc5 := waitWC(t, net, a, b, 3), waitWC(t, net, a, b, 4), waitWC(t, net, a, b, 5)
	if wc3.Value != 5 || binary.LittleEndian.Uint64(old) != 5 || wc4.Value != 9 || wc5.Value != 9 || mb.Load64(64) != 12 {
		t.Fatalf("atomics: %v %v %v word=%d", wc3, wc4, wc5, mb.Load64(64))
	}

	if twoSided(net) {
		rbuf := make([]byte, 16)
		must(t, qb.PostRecv(70, rbuf))
		must(t, qb.PostRecv(71, make([]byte, 16)))
		must(t, qa.Post(rdma.WR{ID: 6, Op: rdma.Send, Local: []byte("hello"), Signaled: true, Inline: true},
			rdma.WR{ID: 7, Op: rdma.WriteImm, Local: pattern(3, 8), RKey: mb.RKey(), RemoteAddr: 200, Imm: 42, Signaled: true}))
		waitWC(t, net, a, b, 7)
		if !net.RunUntil(func() bool { return count(net, b, func(w rdma.WC) bool { return w.Op == rdma.RecvImm }) == 1 }, wait) {
			t.Fatalf("no RecvImm at %v: %v", b, net.Inbox(b))
		}
		var recv, recvImm rdma.WC
		for _, m := range net.Inbox(b) {
			if w, ok := m.(rdma.WC); ok && w.Op == rdma.Recv {
				recv = w
			} else if ok && w.Op == rdma.RecvImm {
				recvImm = w
			}
		}
		if recv.ID != 70 || recv.Len != 5 || string(rbuf[:5]) != "hello" || recvImm.ID != 71 || recvImm.Imm != 42 || mb.Load64(200) != 0x0303030303030303 {
			t.Fatalf("send/recv: %v %q; write-imm: %v", recv, rbuf, recvImm)
		}
	}

	// The payload of a non-inline write is read by DMA after the post;
	// an inline one is copied at post time.
	dma, inl := pattern(1, 8), pattern(1, 8)
	must(t, qa.Post(rdma.WR{ID: 8, Op: rdma.Write, Local: dma, RKey: mb.RKey(), RemoteAddr: 1000, Signaled: true},
		rdma.WR{ID: 9, Op: rdma.Write, Local: inl, RKey: mb.RKey(), RemoteAddr: 1008, Signaled: true, Inline: true}))
	copy(dma, pattern(2, 8))
	copy(inl, pattern(2, 8))
	waitWC(t, net, a, b, 9)
	if net.Deterministic() && (mb.Load64(1000) != 0x0202020202020202 || mb.Load64(1008) != 0x0101010101010101) {
		t.Fatalf("reused buffers: non-inline placed %x (want the later bytes), inline %x (want the posted ones)", mb.Load64(1000), mb.Load64(1008))
	}
}

// settle is how long to wait for a host's replica to notice a change of
// its memory: d in virtual time, longer in real time, where a poller that
// the operating system preempts notices late (a Net says how long with a
// Settle method).
func settle(net Net, d time.Duration) time.Duration {
	if n, ok := net.(interface{ Settle() time.Duration }); ok {
		return max(d, n.Settle())
	}
	return d
}

// twoSided reports whether the backend offers SEND and WRITE_WITH_IMM: a
// Net without them (shm) says so with a TwoSided method.
func twoSided(net Net) bool {
	if n, ok := net.(interface{ TwoSided() bool }); ok {
		return n.TwoSided()
	}
	return true
}

// §10.6 item 1: out of bounds, wrong key, missing right on the region or
// on the responder's queue pair, misaligned atomic: the error status,
// nothing placed, the queue pair in Err, every later request flushed, and
// the responder's end in Err with a QPFatal.
func testAccessErrors(t *testing.T, f Factory) {
	cases := []struct {
		name    string
		mr, qp  rdma.Access
		wr      rdma.WR
		want    rdma.Status
		badRKey bool
	}{
		{"out of bounds", rdma.RemoteAll, rdma.RemoteAll, rdma.WR{Op: rdma.Write, Local: pattern(1, 64), RemoteAddr: 4090}, rdma.RemoteAccessErr, false},
		{"wrong rkey", rdma.RemoteAll, rdma.RemoteAll, rdma.WR{Op: rdma.Write, Local: pattern(1, 8)}, rdma.RemoteAccessErr, true},
		{"region without remote write", rdma.RemoteRead, rdma.RemoteAll, rdma.WR{Op: rdma.Write, Local: pattern(1, 8)}, rdma.RemoteAccessErr, false},
		{"queue pair without remote write", rdma.RemoteAll, rdma.RemoteRead, rdma.WR{Op: rdma.Write, Local: pattern(1, 8)}, rdma.RemoteAccessErr, false},
		{"queue pair without atomics", rdma.RemoteAll, rdma.RemoteRead | rdma.RemoteWrite, rdma.WR{Op: rdma.FAA, Add: 1}, rdma.RemoteAccessErr, false},
		{"region without remote read", rdma.RemoteWrite, rdma.RemoteAll, rdma.WR{Op: rdma.Read, Local: make([]byte, 8)}, rdma.RemoteAccessErr, false},
		{"misaligned atomic", rdma.RemoteAll, rdma.RemoteAll, rdma.WR{Op: rdma.CAS, RemoteAddr: 4, Swap: 1}, rdma.RemoteInvalidReq, false},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			net := build(t, f, 2, rdma.DefaultOptions(2))
			a, b := net.IDs()[0], net.IDs()[1]
			mb, err := net.Device(b).Register(4096, c.mr)
			must(t, err)
			qa, qb := link(t, net, a, b, 0, rdma.RemoteAll, c.qp)
			bad := c.wr
			bad.ID, bad.RKey, bad.Signaled = 1, mb.RKey(), false // errors complete even unsignaled
			if c.badRKey {
				bad.RKey = mb.RKey() + 7
			}
			good := rdma.WR{ID: 2, Op: rdma.Write, Local: pattern(9, 8), RKey: mb.RKey(), Signaled: true}
			must(t, qa.Post(bad, good))
			if wc := waitWC(t, net, a, b, 1); wc.Status != c.want {
				t.Fatalf("bad request: %v, want %v", wc, c.want)
			}
			if wc := waitWC(t, net, a, b, 2); wc.Status != rdma.FlushErr {
				t.Fatalf("request after the error: %v, want %v", wc, rdma.FlushErr)
			}
			if qa.State() != rdma.Err {
				t.Fatalf("requester in %v after the error, want ERR", qa.State())
			}
			must(t, qa.Post(rdma.WR{ID: 3, Op: rdma.Write, Local: pattern(9, 8), RKey: mb.RKey(), Signaled: true}))
			if wc := waitWC(t, net, a, b, 3); wc.Status != rdma.FlushErr {
				t.Fatalf("request posted in ERR: %v, want %v", wc, rdma.FlushErr)
			}
			all := make([]byte, 4096)
			mb.Read(0, all)
			if !bytes.Equal(all, make([]byte, 4096)) {
				t.Fatal("a failed or flushed request changed the responder's memory")
			}
			if !net.RunUntil(func() bool { return qb.State() == rdma.Err }, wait) ||
				count(net, b, func(e rdma.Event) bool { return e.Kind == rdma.QPFatal }) != 1 {
				t.Fatalf("responder in %v, events %v: want ERR and one QPFatal", qb.State(), net.Inbox(b))
			}
			// Reset and reconnect make the queue pair usable again.
			qa, _ = link(t, net, a, b, 0, rdma.RemoteAll, rdma.RemoteAll)
			if c.mr.Has(rdma.RemoteWrite) {
				must(t, qa.Post(rdma.WR{ID: 4, Op: rdma.Write, Local: pattern(9, 8), RKey: mb.RKey(), Signaled: true}))
				if wc := waitWC(t, net, a, b, 4); wc.Status != rdma.Success {
					t.Fatalf("after reconnecting: %v", wc)
				}
			}
		})
	}
}

// §10.6 item 2: a revoke racing an in-flight 4 KiB WRITE. Whatever the
// timing, the write either succeeds and landed whole, or fails and landed
// nothing; both happen across the sweep.
func testRevokeRace(t *testing.T, f Factory) {
	for _, mode := range []rdma.Placement{rdma.InorderChunks, rdma.RandomChunks} {
		t.Run(mode.String(), func(t *testing.T) {
			o := rdma.DefaultOptions(3)
			o.Placement = mode
			net := build(t, f, 2, o)
			a, b := net.IDs()[0], net.IDs()[1]
			mb, err := net.Device(b).Register(4096, rdma.RemoteAll)
			must(t, err)
			cost := net.Device(b).Profile().AccessChange
			outcomes := map[rdma.Status]int{}
			for i := 0; i < 60; i++ {
				qa, qb := link(t, net, a, b, 0, rdma.RemoteAll, rdma.RemoteAll)
				mb.Write(0, make([]byte, 4096))
				start := net.Now()
				must(t, qb.SetRemoteAccess(rdma.RemoteRead))
				// Post the write from well before to well after the
				// instant the revoke takes effect.
				at := start + cost*time.Duration(i)/40
				net.RunUntil(func() bool { return net.Now() >= at }, wait)
				id := uint64(100 + i)
				must(t, qa.Post(rdma.WR{ID: id, Op: rdma.Write, Local: pattern(byte(i+1), 4096), RKey: mb.RKey(), Signaled: true}))
				wc := waitWC(t, net, a, b, id)
				all := make([]byte, 4096)
				mb.Read(0, all)
				switch {
				case wc.Status == rdma.Success && !bytes.Equal(all, pattern(byte(i+1), 4096)):
					t.Fatalf("step %d: write succeeded but did not land whole", i)
				case wc.Status == rdma.RemoteAccessErr && !bytes.Equal(all, make([]byte, 4096)):
					t.Fatalf("step %d: write refused but some of it landed", i)
				case wc.Status != rdma.Success && wc.Status != rdma.RemoteAccessErr:
					t.Fatalf("step %d: %v", i, wc)
				}
				outcomes[wc.Status]++
				net.RunUntil(func() bool { return qb.RemoteAccess() == rdma.RemoteRead }, wait)
			}
			if outcomes[rdma.Success] == 0 || outcomes[rdma.RemoteAccessErr] == 0 {
				t.Fatalf("outcomes %v: the sweep should see writes placed before and after the revoke", outcomes)
			}
		})
	}
}

// §10.6 item 3: per-QP order. A WRITE of a slot followed by a WRITE of the
// end pointer on one queue pair: a poller that sees the new end always
// sees the slots below it. And slots with a canary as last byte: in
// in-order placement a set canary means a complete slot; random-chunk
// placement must produce torn slots that the canary check catches.
func testOrder(t *testing.T, f Factory) {
	const slot, slots = 1024, 40
	for _, mode := range []rdma.Placement{rdma.InorderChunks, rdma.RandomChunks} {
		t.Run(mode.String(), func(t *testing.T) {
			o := rdma.DefaultOptions(4)
			o.Placement = mode
			net := build(t, f, 2, o)
			a, b := net.IDs()[0], net.IDs()[1]
			mb, err := net.Device(b).Register(64+slots*slot, rdma.RemoteAll)
			must(t, err)
			qa, _ := link(t, net, a, b, 0, rdma.RemoteAll, rdma.RemoteAll)
			end := mb.Watch(0, 8)
			body := mb.Watch(64, slots*slot)
			var torn, complete, endErrs int
			net.Handle(b, func(m paxi.Message) {
				c, ok := m.(rdma.Changed)
				if !ok {
					return
				}
				switch c.Watch {
				case end:
					e := int(mb.Load64(0))
					for i := 0; i < e; i++ {
						got := make([]byte, slot)
						mb.Read(64+i*slot, got)
						if !bytes.Equal(got, slotBytes(i, slot)) {
							endErrs++
						}
					}
				case body:
					for i := 0; i < slots; i++ {
						got := make([]byte, slot)
						mb.Read(64+i*slot, got)
						if got[slot-1] != 0xff {
							continue
						}
						if bytes.Equal(got, slotBytes(i, slot)) {
							complete++
						} else {
							torn++
						}
					}
				}
			})
			for i := 0; i < slots; i++ {
				var e [8]byte
				binary.LittleEndian.PutUint64(e[:], uint64(i+1))
				must(t, qa.Post(rdma.WR{ID: uint64(2 * i), Op: rdma.Write, Local: slotBytes(i, slot), RKey: mb.RKey(), RemoteAddr: uint64(64 + i*slot)},
					rdma.WR{ID: uint64(2*i + 1), Op: rdma.Write, Local: e[:], RKey: mb.RKey(), Signaled: true, Inline: true}))
				waitWC(t, net, a, b, uint64(2*i+1))
			}
			net.RunUntil(func() bool { return false }, 100*time.Microsecond)
			if endErrs > 0 {
				t.Fatalf("%d slots below the end pointer were incomplete when the new end was seen", endErrs)
			}
			t.Logf("%v: %d complete and %d torn slots seen with the canary set", mode, complete, torn)
			if mode == rdma.InorderChunks && torn > 0 {
				t.Fatalf("in-order placement: %d slots torn with the canary set", torn)
			}
			if mode == rdma.RandomChunks && torn == 0 && net.Deterministic() {
				t.Fatal("random-chunk placement never showed a torn slot with its canary set")
			}
		})
	}
}

// slotBytes is slot i: its number in every byte but the last, the canary
// 0xff.
func slotBytes(i, n int) []byte {
	b := pattern(byte(i+1), n)
	b[n-1] = 0xff
	return b
}

// §10.6 item 4: CAS from many queue pairs on one word. Every success saw a
// distinct old value, the successes are exactly the increments, and the
// responder's atomic unit caps the rate on one address.
func testCAS(t *testing.T, f Factory) {
	const perClient = 30
	net := build(t, f, 3, rdma.DefaultOptions(5))
	ids := net.IDs()
	home := ids[0]
	mh, err := net.Device(home).Register(64, rdma.RemoteAll)
	must(t, err)
	type client struct {
		qp    rdma.QP
		guess uint64
		wins  int
	}
	var clients []*client
	for _, id := range ids[1:] {
		for ch := 0; ch < 3; ch++ {
			q, _ := link(t, net, id, home, ch, rdma.RemoteAll, rdma.RemoteAll)
			clients = append(clients, &client{qp: q})
		}
	}
	var olds []uint64
	post := func(c *client) {
		must(t, c.qp.Post(rdma.WR{ID: c.guess, Op: rdma.CAS, RKey: mh.RKey(), Compare: c.guess, Swap: c.guess + 1, Signaled: true}))
	}
	for _, id := range ids[1:] {
		net.Handle(id, func(m paxi.Message) {
			wc, ok := m.(rdma.WC)
			if !ok {
				return
			}
			if wc.Status != rdma.Success {
				t.Errorf("CAS: %v", wc)
				return
			}
			for _, c := range clients {
				if c.qp.Peer() == wc.Peer && c.qp.Channel() == wc.Channel && net.Device(id) != nil && c.qp == mustQP(net, id, wc.Peer, wc.Channel) {
					if wc.Value == c.guess {
						c.wins++
						olds = append(olds, wc.Value)
						c.guess++
					} else {
						c.guess = wc.Value
					}
					if c.wins < perClient {
						post(c)
					}
				}
			}
		})
	}
	start := net.Now()
	for _, c := range clients {
		post(c)
	}
	total := perClient * len(clients)
	if !net.RunUntil(func() bool { return len(olds) == total }, wait) {
		t.Fatalf("%d of %d increments after %v", len(olds), total, wait)
	}
	elapsed := net.Now() - start
	slices.Sort(olds)
	for i, v := range olds {
		if v != uint64(i) {
			t.Fatalf("successful CAS old values %v...: not each of 0..%d once", olds[:min(len(olds), i+3)], total-1)
		}
	}
	if w := mh.Load64(0); w != uint64(total) {
		t.Fatalf("word = %d after %d successful increments", w, total)
	}
	floor := time.Duration(total) * net.Device(home).Profile().AtomicService
	if elapsed < floor {
		t.Fatalf("%d same-address atomics (and their failures) took %v, below the cap's %v", total, elapsed, floor)
	}
}

func mustQP(net Net, id, peer paxi.ID, ch int) rdma.QP {
	q, err := net.Device(id).QP(peer, ch)
	if err != nil {
		panic(err)
	}
	return q
}

// §10.6 item 5: unsignaled requests hold send-queue slots until a later
// signaled one completes; a post that would overflow fails.
func testSendQueue(t *testing.T, f Factory) {
	o := rdma.DefaultOptions(6)
	o.Profile.SendQueue = 8
	net := build(t, f, 2, o)
	a, b := net.IDs()[0], net.IDs()[1]
	mb, err := net.Device(b).Register(4096, rdma.RemoteAll)
	must(t, err)
	qa, _ := link(t, net, a, b, 0, rdma.RemoteAll, rdma.RemoteAll)
	w := func(id uint64, signaled bool) rdma.WR {
		return rdma.WR{ID: id, Op: rdma.Write, Local: pattern(1, 8), RKey: mb.RKey(), RemoteAddr: 8 * id, Signaled: signaled, Inline: true}
	}
	for i := uint64(1); i <= 8; i++ {
		must(t, qa.Post(w(i, false)))
	}
	if err := qa.Post(w(9, true)); !errors.Is(err, rdma.ErrSendQueueFull) {
		t.Fatalf("ninth post on a queue of 8: %v, want ErrSendQueueFull", err)
	}
	// Even after all eight are placed, their slots stay taken.
	net.RunUntil(func() bool { return mb.Load64(64) != 0 }, wait)
	net.RunUntil(func() bool { return false }, 50*time.Microsecond)
	if n := qa.Outstanding(); n != 8 {
		t.Fatalf("%d slots in use after the unsignaled writes completed, want 8", n)
	}
	if err := qa.Post(w(9, true)); !errors.Is(err, rdma.ErrSendQueueFull) {
		t.Fatalf("post with completed unsignaled requests still queued: %v, want ErrSendQueueFull", err)
	}
	if err := qa.Post(w(20, false), w(21, false)); !errors.Is(err, rdma.ErrSendQueueFull) {
		t.Fatalf("batch post: %v", err)
	}

	net2 := build(t, f, 2, o)
	a, b = net2.IDs()[0], net2.IDs()[1]
	mb, err = net2.Device(b).Register(4096, rdma.RemoteAll)
	must(t, err)
	qa, _ = link(t, net2, a, b, 0, rdma.RemoteAll, rdma.RemoteAll)
	for i := uint64(1); i <= 7; i++ {
		must(t, qa.Post(w(i, false)))
	}
	must(t, qa.Post(w(8, true)))
	waitWC(t, net2, a, b, 8)
	if n := qa.Outstanding(); n != 0 {
		t.Fatalf("%d slots in use after the signaled request completed, want 0", n)
	}
	if n := count(net2, a, func(rdma.WC) bool { return true }); n != 1 {
		t.Fatalf("%d completions for 7 unsignaled and 1 signaled requests, want 1", n)
	}
	for i := uint64(10); i < 18; i++ {
		must(t, qa.Post(w(i, i == 17)))
	}
}

// §10.6 item 6: operations to a crashed host fail with RetryExceeded, not
// before the RC timeout; the host comes back empty and must be reconnected.
func testHostDown(t *testing.T, f Factory) {
	o := rdma.DefaultOptions(7)
	o.Profile.RCTimeoutExp = 8 // ≈ 8 ms, to keep real-time backends quick
	net := build(t, f, 2, o)
	a, b := net.IDs()[0], net.IDs()[1]
	mb, err := net.Device(b).Register(4096, rdma.RemoteAll)
	must(t, err)
	qa, _ := link(t, net, a, b, 0, rdma.RemoteAll, rdma.RemoteAll)
	rkey := mb.RKey()
	net.Crash(b)
	if net.Device(b) != nil {
		t.Fatal("a crashed host still has a device")
	}
	start := net.Now()
	must(t, qa.Post(rdma.WR{ID: 1, Op: rdma.Write, Local: pattern(1, 8), RKey: rkey, Signaled: true},
		rdma.WR{ID: 2, Op: rdma.Read, Local: make([]byte, 8), RKey: rkey, Signaled: true}))
	wc := waitWC(t, net, a, b, 1)
	took := net.Now() - start
	if wc.Status != rdma.RetryExceeded || took < o.Profile.RCTimeout() {
		t.Fatalf("write to a crashed host: %v after %v, want %v after at least %v", wc, took, rdma.RetryExceeded, o.Profile.RCTimeout())
	}
	if wc := waitWC(t, net, a, b, 2); wc.Status != rdma.FlushErr {
		t.Fatalf("read after it: %v, want %v", wc, rdma.FlushErr)
	}

	net.Restart(b)
	mb2, err := net.Device(b).Register(4096, rdma.RemoteAll)
	must(t, err)
	if mb2.Load64(0) != 0 || mb2.RKey() != rkey {
		t.Fatalf("restarted host: word %d, rkey %d (want empty memory, the same first key)", mb2.Load64(0), mb2.RKey())
	}
	qa, _ = link(t, net, a, b, 0, rdma.RemoteAll, rdma.RemoteAll)
	must(t, qa.Post(rdma.WR{ID: 3, Op: rdma.Write, Local: pattern(1, 8), RKey: rkey, Signaled: true}))
	if wc := waitWC(t, net, a, b, 3); wc.Status != rdma.Success || mb2.Load64(0) != 0x0101010101010101 {
		t.Fatalf("after the restart and reconnect: %v", wc)
	}
}

// §10.6 item 7: a paused process's NIC still serves READ and WRITE on its
// memory, but its replica does nothing: its heartbeat word (bumped by its
// handler for each tick a peer writes) stops, and its notifications wait
// until it resumes.
func testPaused(t *testing.T, f Factory) {
	net := build(t, f, 2, rdma.DefaultOptions(8))
	a, b := net.IDs()[0], net.IDs()[1]
	mb, err := net.Device(b).Register(4096, rdma.RemoteAll)
	must(t, err)
	qa, _ := link(t, net, a, b, 0, rdma.RemoteAll, rdma.RemoteAll)
	tick := mb.Watch(0, 8)
	net.Handle(b, func(m paxi.Message) {
		if c, ok := m.(rdma.Changed); ok && c.Watch == tick {
			mb.Store64(8, mb.Load64(8)+1) // the heartbeat
		}
	})
	var id uint64
	beat := func() uint64 { // one tick written, then the heartbeat read
		id += 2
		buf := make([]byte, 8)
		var e [8]byte
		binary.LittleEndian.PutUint64(e[:], id)
		must(t, qa.Post(rdma.WR{ID: id, Op: rdma.Write, Local: e[:], RKey: mb.RKey(), Inline: true, Signaled: true}))
		if wc := waitWC(t, net, a, b, id); wc.Status != rdma.Success {
			t.Fatalf("tick: %v", wc)
		}
		net.RunUntil(func() bool { return false }, settle(net, 20*time.Microsecond))
		must(t, qa.Post(rdma.WR{ID: id + 1, Op: rdma.Read, Local: buf, RKey: mb.RKey(), RemoteAddr: 8, Signaled: true}))
		if wc := waitWC(t, net, a, b, id+1); wc.Status != rdma.Success {
			t.Fatalf("heartbeat read: %v", wc)
		}
		return binary.LittleEndian.Uint64(buf)
	}
	h1, h2 := beat(), beat()
	if h2 <= h1 {
		t.Fatalf("running: heartbeat %d then %d, want it moving", h1, h2)
	}
	net.Pause(b, true)
	p1, p2, p3 := beat(), beat(), beat()
	if p1 != h2 || p2 != h2 || p3 != h2 {
		t.Fatalf("paused: heartbeat %d %d %d, want it stuck at %d", p1, p2, p3, h2)
	}
	if got := mb.Load64(0); got != id {
		t.Fatalf("paused host's memory holds tick %d, want %d: its NIC must keep serving writes", got, id)
	}
	net.Pause(b, false)
	if r := beat(); r <= h2 {
		t.Fatalf("resumed: heartbeat %d, want above %d", r, h2)
	}
}

// §10.6 item 8: the same seed gives the same trace of deliveries; another
// seed gives another (the jitter).
func testDeterminism(t *testing.T, f Factory) {
	net := build(t, f, 2, rdma.DefaultOptions(9))
	if !net.Deterministic() {
		t.Skip("a real-time backend")
	}
	run := func(seed uint64) string {
		o := rdma.DefaultOptions(seed)
		o.Placement = rdma.RandomChunks
		net := build(t, f, 3, o)
		var trace strings.Builder
		ids := net.IDs()
		var mrs []rdma.MR
		for _, id := range ids {
			m, err := net.Device(id).Register(8192, rdma.RemoteAll)
			must(t, err)
			m.Watch(0, 8192)
			mrs = append(mrs, m)
			net.Handle(id, func(m paxi.Message) { fmt.Fprintf(&trace, "%v %v %v\n", net.Now(), id, m) })
		}
		var qps []rdma.QP
		for i, x := range ids {
			for _, y := range ids[i+1:] {
				qx, qy := link(t, net, x, y, 0, rdma.RemoteAll, rdma.RemoteAll)
				qps = append(qps, qx, qy)
			}
		}
		for i := range 200 {
			q := qps[i%len(qps)]
			var rm rdma.MR
			for j, id := range ids {
				if id == q.Peer() {
					rm = mrs[j]
				}
			}
			ops := []rdma.WR{
				{Op: rdma.Write, Local: pattern(byte(i), 64+i*13%2000), RemoteAddr: uint64(i * 8 % 4096)},
				{Op: rdma.Read, Local: make([]byte, 100), RemoteAddr: uint64(i % 4000)},
				{Op: rdma.FAA, RemoteAddr: 8 * uint64(i%16), Add: 1},
			}
			w := ops[i%3]
			w.ID, w.RKey, w.Signaled = uint64(i), rm.RKey(), true
			must(t, q.Post(w))
			net.RunUntil(func() bool { return false }, 300*time.Nanosecond)
		}
		net.RunUntil(func() bool { return false }, time.Millisecond)
		return trace.String()
	}
	t1, t2, t3 := run(1), run(1), run(2)
	if t1 != t2 {
		t.Fatal("two runs with seed 1 traced differently")
	}
	if t1 == t3 {
		t.Fatal("seeds 1 and 2 traced the same: the jitter is not drawn from the seed")
	}
	if n := strings.Count(t1, "\n"); n < 200 {
		t.Fatalf("trace of %d lines for 200 requests", n)
	}
}
