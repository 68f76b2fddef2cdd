package transport_test

import (
	"errors"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport"
)

// benchP2a is a typical accept: one command with a 64-byte value.
func benchP2a() P2a {
	return P2a{
		Ballot: paxi.NewBallot(3, paxi.NewID(1, 1)),
		Slot:   123456,
		Commands: []paxi.Command{{
			Op: paxi.Put, Key: "key-00042", Value: make([]byte, 64),
			ClientID: "client-7", CommandID: 99,
		}},
	}
}

func BenchmarkCodec(b *testing.B) {
	c := newTestCodec()
	var m paxi.Message = benchP2a()
	enc, err := c.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Marshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			if _, err := c.Marshal(m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			if _, err := c.Unmarshal(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("RoundTrip", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			e, err := c.Marshal(m)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Unmarshal(e); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchThroughput streams b.N P2a messages from one node to another and
// reports messages per second. Send never blocks, so on a full queue the
// sender yields and retries, as a saturated leader would see it.
func benchThroughput(b *testing.B, from, to transport.Transport, toID paxi.ID) {
	var m paxi.Message = benchP2a()
	enc, _ := newTestCodec().Marshal(m)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range b.N {
			<-to.Recv()
		}
	}()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		for {
			err := from.Send(toID, m)
			if err == nil {
				break
			}
			if !errors.Is(err, transport.ErrQueueFull) {
				b.Fatal(err)
			}
			runtime.Gosched()
		}
	}
	<-done
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

func BenchmarkTCPThroughput(b *testing.B) {
	ida, idb := paxi.NewID(1, 1), paxi.NewID(1, 2)
	codec := newTestCodec()
	lna, _ := net.Listen("tcp", "127.0.0.1:0")
	lnb, _ := net.Listen("tcp", "127.0.0.1:0")
	addrs := map[paxi.ID]string{ida: lna.Addr().String(), idb: lnb.Addr().String()}
	ta, err := transport.NewTCP(ida, addrs, codec, transport.Options{Listener: lna})
	if err != nil {
		b.Fatal(err)
	}
	defer ta.Close()
	tb, err := transport.NewTCP(idb, addrs, codec, transport.Options{Listener: lnb})
	if err != nil {
		b.Fatal(err)
	}
	defer tb.Close()
	benchThroughput(b, ta, tb, idb)
}

func BenchmarkChanThroughput(b *testing.B) {
	ida, idb := paxi.NewID(1, 1), paxi.NewID(1, 2)
	n := transport.NewChanNetwork()
	ta, _ := n.Join(ida, []paxi.ID{ida, idb}, transport.Options{})
	tb, _ := n.Join(idb, []paxi.ID{ida, idb}, transport.Options{})
	defer ta.Close()
	defer tb.Close()
	benchThroughput(b, ta, tb, idb)
}

// nopTransport accepts and discards, to measure a wrapper's own cost.
type nopTransport struct{ recv chan transport.Envelope }

func (n nopTransport) Send(paxi.ID, paxi.Message) error { return nil }
func (n nopTransport) Recv() <-chan transport.Envelope  { return n.recv }
func (n nopTransport) Close() error                     { close(n.recv); return nil }

// BenchmarkFaultySend measures what Faulty adds to Send with no fault set
// (the lock-free fast path) and with a fault on another link.
func BenchmarkFaultySend(b *testing.B) {
	ida, idb, idc := paxi.NewID(1, 1), paxi.NewID(1, 2), paxi.NewID(1, 3)
	var m paxi.Message = benchP2a() // boxed once, as the runtime's outbox holds it
	b.Run("NoFault", func(b *testing.B) {
		f := transport.NewFaulty(nopTransport{make(chan transport.Envelope)}, ida, 1)
		defer f.Close()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				f.Send(idb, m)
			}
		})
	})
	b.Run("FaultElsewhere", func(b *testing.B) {
		f := transport.NewFaulty(nopTransport{make(chan transport.Envelope)}, ida, 1)
		defer f.Close()
		f.Drop(idc, 0)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				f.Send(idb, m)
			}
		})
	})
}
