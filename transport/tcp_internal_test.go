package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
)

// discardLogger is for tests that want silence.
var discardLogger = slog.New(slog.DiscardHandler)

// logRecorder is a slog.Handler that keeps records, to test what the
// transport logs (and how often).
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// count returns how many records at level or above contain msg.
func (r *logRecorder) count(level slog.Level, msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.records {
		if rec.Level >= level && strings.Contains(rec.Message, msg) {
			n++
		}
	}
	return n
}

func (r *logRecorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.records)
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// newTestTCP starts node self of a cluster {idA, idB, idC} on a :0
// listener; the other nodes' addresses are free ports with nobody behind.
func newTestTCP(t *testing.T, self paxi.ID, log *slog.Logger) (*TCP, map[paxi.ID]string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addrs := map[paxi.ID]string{idA: freeAddr(t), idB: freeAddr(t), idC: freeAddr(t)}
	addrs[self] = ln.Addr().String()
	tr, err := NewTCP(self, addrs, NewCodec(num(0)), Options{Listener: ln, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, addrs
}

func hello(id paxi.ID) []byte {
	b := binary.BigEndian.AppendUint32(nil, helloSize)
	b = append(b, helloMagic[:]...)
	return binary.BigEndian.AppendUint32(b, uint32(id))
}

func frame(payload []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(payload))), payload...)
}

// TestTCPBadFrames: after a valid hello, every kind of bad frame closes
// that connection with a warning, and the node keeps accepting good ones.
func TestTCPBadFrames(t *testing.T) {
	rec := &logRecorder{}
	tr, addrs := newTestTCP(t, idB, slog.New(rec))
	good, err := NewCodec(num(0)).Marshal(num(7))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		bytes []byte
		warn  string
	}{
		{"absurd length", append(hello(idA), 0xff, 0xff, 0xff, 0xff, 1, 2, 3), "frame length 4294967295"},
		{"just over the limit", append(hello(idA), binary.BigEndian.AppendUint32(nil, MaxFrameSize+1)...), "frame length 67108865"},
		{"zero length", append(hello(idA), 0, 0, 0, 0), "frame length 0"},
		{"unknown code", append(hello(idA), frame([]byte{42, 0xc0})...), "unknown type code 42"},
		{"bad msgpack", append(hello(idA), frame([]byte{2, 0xc1})...), "invalid msgpack"},
		{"trailing bytes", append(hello(idA), frame(append(bytes.Clone(good), 0))...), "trailing"},
		{"hello from a stranger", hello(paxi.NewID(9, 9)), "not a peer"},
		{"hello from itself", hello(idB), "not a peer"},
		{"wrong magic", append(binary.BigEndian.AppendUint32(nil, helloSize), "http1234"...), "magic"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addrs[idB])
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(tc.bytes); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
				t.Fatalf("connection not closed by the node: %v", err)
			}
			if n := rec.count(slog.LevelWarn, ""); n == 0 {
				t.Fatal("nothing logged")
			}
			if !rec.lastContains(tc.warn) {
				t.Fatalf("last warning does not mention %q: %v", tc.warn, rec.last())
			}
		})
	}
	// Still working: a good connection delivers.
	c, err := net.Dial("tcp", addrs[idB])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(append(hello(idA), frame(good)...))
	select {
	case env := <-tr.Recv():
		if env.From != idA || env.To != idB || env.Msg != num(7) {
			t.Fatalf("got %+v", env)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("good frame not delivered after bad connections")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (r *logRecorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.records) == 0 {
		return ""
	}
	rec := r.records[len(r.records)-1]
	var b strings.Builder
	b.WriteString(rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	return b.String()
}

func (r *logRecorder) lastContains(s string) bool { return strings.Contains(r.last(), s) }

// TestTCPDownPeerLogsOnce: a peer that stays down is reported once at info
// level, and retries back off instead of spinning (the original Paxi
// logged EOF in a tight loop).
func TestTCPDownPeerLogsOnce(t *testing.T) {
	rec := &logRecorder{}
	tr, _ := newTestTCP(t, idA, slog.New(rec))
	if err := tr.Send(idB, num(1)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); rec.count(slog.LevelInfo, "unreachable") == 0; {
		if time.Now().After(deadline) {
			t.Fatal("a down peer was never reported")
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	time.Sleep(300 * time.Millisecond)
	if n := rec.count(slog.LevelInfo, "unreachable"); n != 1 {
		t.Errorf("logged 'unreachable' %d times at info level, want once", n)
	}
	// Back-off 10, 20, 40, 80, 160ms...: a handful of attempts, each
	// logged at debug level, in 300ms (more if this test was descheduled).
	if n, limit := rec.total(), 10+int(time.Since(start)/(100*time.Millisecond)); n > limit {
		t.Errorf("%d log records in %v for one down peer: retries do not back off", n, time.Since(start))
	}
}

// TestReadFrameAllocatesAsDataArrives: a forged length costs memory only
// for the bytes actually sent.
func TestReadFrameAllocatesAsDataArrives(t *testing.T) {
	in := append(binary.BigEndian.AppendUint32(nil, 60<<20), make([]byte, 100)...)
	buf, err := readFrame(bytes.NewReader(in), nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v, want ErrUnexpectedEOF", err)
	}
	if cap(buf) > 2*readChunk {
		t.Fatalf("allocated %d bytes for 100 bytes of data", cap(buf))
	}
}

func TestTCPSendErrors(t *testing.T) {
	tr, _ := newTestTCP(t, idA, discardLogger)
	if err := tr.Send(idB, unregisteredMsg{}); !errors.Is(err, ErrUnregistered) {
		t.Errorf("unregistered type: got %v", err)
	}
	if err := tr.Send(paxi.NewID(7, 7), num(1)); !errors.Is(err, ErrUnknownPeer) {
		t.Errorf("unknown peer: got %v", err)
	}
}

type unregisteredMsg struct{}

func (unregisteredMsg) String() string { return "unregistered" }

func TestNewTCPAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = NewTCP(idA, map[paxi.ID]string{idA: ln.Addr().String()}, NewCodec(), Options{})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("got %v, want an address-in-use error", err)
	}
}

func TestNew(t *testing.T) {
	cfg := paxi.DefaultConfig()
	cfg.Addrs = map[paxi.ID]string{idA: freeAddr(t), idB: freeAddr(t)}
	codec := NewCodec(num(0))
	chanNet := NewChanNetwork()
	for _, kind := range []string{paxi.TransportTCP, paxi.TransportUDP, paxi.TransportChan} {
		cfg.Transport = kind
		tr, err := New(cfg, idA, codec, chanNet, Options{Logger: discardLogger})
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if err := tr.Send(idA, num(1)); err != nil {
			t.Fatalf("%s: Send: %v", kind, err)
		}
		if env := <-tr.Recv(); env.Msg != num(1) {
			t.Fatalf("%s: got %v", kind, env.Msg)
		}
		// The codec is enforced on every transport, chan included.
		if err := tr.Send(idB, unregisteredMsg{}); !errors.Is(err, ErrUnregistered) {
			t.Errorf("%s: unregistered type: got %v", kind, err)
		}
		tr.Close()
	}
	cfg.Transport = paxi.TransportChan
	if _, err := New(cfg, idA, codec, nil, Options{}); err == nil {
		t.Error("chan without a ChanNetwork: no error")
	}
	cfg.Transport = "carrier-pigeon"
	if _, err := New(cfg, idA, codec, chanNet, Options{}); err == nil {
		t.Error("unknown transport: no error")
	}
}

func TestChanJoinTwice(t *testing.T) {
	n := NewChanNetwork()
	tr, err := n.Join(idA, []paxi.ID{idA, idB}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Join(idA, nil, Options{}); err == nil {
		t.Fatal("second Join of an open node: no error")
	}
	tr.Close()
	tr, err = n.Join(idA, nil, Options{})
	if err != nil {
		t.Fatalf("Join after Close: %v", err)
	}
	tr.Close()
}
