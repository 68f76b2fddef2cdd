package native

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/store"
)

// fakeBackend is a store behind a mutex. Keys starting with "block" wait
// until release is closed (or the request's context ends); key "panic"
// panics. It counts the commands executing at once.
type fakeBackend struct {
	mu      sync.Mutex
	s       *store.Store
	release chan struct{}
	running atomic.Int64
	peak    atomic.Int64
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{s: store.New(), release: make(chan struct{})}
}

func (b *fakeBackend) Do(ctx context.Context, cmd paxi.Command) (paxi.Reply, error) {
	n := b.running.Add(1)
	defer b.running.Add(-1)
	for {
		p := b.peak.Load()
		if n <= p || b.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if cmd.Key == "panic" {
		panic("backend bug")
	}
	if strings.HasPrefix(cmd.Key, "block") {
		select {
		case <-b.release:
		case <-ctx.Done():
			return paxi.Reply{}, fmt.Errorf("%w: %w", paxi.ErrTimeout, ctx.Err())
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return paxi.Reply{Result: b.s.Apply(cmd), Slot: int64(b.s.Applied())}, nil
}

func (b *fakeBackend) History(ctx context.Context, key string) ([]store.Version, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.s.History(key), nil
}

func (b *fakeBackend) Status(ctx context.Context) (client.Status, error) {
	return client.Status{Protocol: "fake"}, nil
}

func (b *fakeBackend) Faults() client.Faults { return nil }

func quietLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(&tlog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

type tlog struct{ t testing.TB }

func (w *tlog) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// startServer serves b on a loopback port and returns the address.
func startServer(t testing.TB, b client.Backend, opts ServerOptions) (*Server, string) {
	t.Helper()
	s := NewServer(b, quietLogger(t), opts)
	addr, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, addr.String()
}

func dial(t testing.TB, addr, id string, opts ClientOptions) *Client {
	t.Helper()
	c, err := Dial(addr, id, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPutGetDelete(t *testing.T) {
	_, addr := startServer(t, newFakeBackend(), ServerOptions{})
	c := dial(t, addr, "c1", ClientOptions{Timeout: 5 * time.Second})
	ctx := ctxT(t)
	if _, err := c.Get(ctx, "k"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("get of a missing key: %v, want client.ErrNotFound", err)
	}
	r, err := c.Put(ctx, "k", []byte("v1"))
	if err != nil || r.Found || r.Value != nil || r.Version != 1 {
		t.Fatalf("first put: %+v %v", r, err)
	}
	r, err = c.Put(ctx, "k", []byte("v2"))
	if err != nil || !r.Found || string(r.Value) != "v1" || r.Version != 2 {
		t.Fatalf("second put: %+v %v (want the previous value v1)", r, err)
	}
	r, err = c.Get(ctx, "k")
	if err != nil || !r.Found || string(r.Value) != "v2" || r.Version != 2 || r.Slot < 1 {
		t.Fatalf("get: %+v %v", r, err)
	}
	if r, err = c.Put(ctx, "e", nil); err != nil {
		t.Fatalf("put of an empty value: %v", err)
	}
	if r, err = c.Get(ctx, "e"); err != nil || !r.Found || len(r.Value) != 0 {
		t.Fatalf("get of an empty value: %+v %v", r, err)
	}
	r, err = c.Delete(ctx, "k")
	if err != nil || !r.Found || string(r.Value) != "v2" {
		t.Fatalf("delete: %+v %v", r, err)
	}
	if _, err := c.Get(ctx, "k"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
}

// Command ids reach the backend: a retried write (DoID, same id) is
// executed once.
func TestCommandIDsDeduplicate(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, b, ServerOptions{})
	c := dial(t, addr, "dedup", ClientOptions{})
	ctx := ctxT(t)
	for range 3 {
		if _, err := c.DoID(ctx, paxi.Put, "k", []byte("x"), 42); err != nil {
			t.Fatal(err)
		}
	}
	h, _ := b.History(ctx, "k")
	if len(h) != 1 || h[0].ClientID != "dedup" || h[0].CommandID != 42 {
		t.Fatalf("history %+v: want one write by dedup#42", h)
	}
	// Ordinary calls number commands from the clock, never reusing 42.
	if _, err := c.Put(ctx, "k", []byte("y")); err != nil {
		t.Fatal(err)
	}
	if h, _ = b.History(ctx, "k"); len(h) != 2 || h[1].CommandID < uint64(time.Hour) {
		t.Fatalf("history %+v: the second command id should come from the clock", h)
	}
}

// One client, many goroutines: every answer reaches its own caller,
// although they complete out of order on one connection.
func TestConcurrentMultiplexing(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, b, ServerOptions{})
	c := dial(t, addr, "mux", ClientOptions{Timeout: 10 * time.Second})
	ctx := ctxT(t)
	const workers, ops = 64, 200
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := "w" + strconv.Itoa(w)
			for i := range ops {
				v := []byte(key + "=" + strconv.Itoa(i))
				if _, err := c.Put(ctx, key, v); err != nil {
					errs <- err
					return
				}
				r, err := c.Get(ctx, key)
				if err != nil || !bytes.Equal(r.Value, v) {
					errs <- fmt.Errorf("%s: read %q %v after writing %q", key, r.Value, err, v)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if p := b.peak.Load(); p < 2 {
		t.Errorf("at most %d command at once: requests were not executed concurrently", p)
	}
}

// A slow request does not hold back a fast one behind it on the same
// connection: the fast one's answer comes first.
func TestOutOfOrderResponses(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, b, ServerOptions{})
	c := dial(t, addr, "ooo", ClientOptions{})
	ctx := ctxT(t)
	slow := make(chan error, 1)
	go func() {
		_, err := c.Put(ctx, "block-1", []byte("s"))
		slow <- err
	}()
	for b.running.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := c.Put(ctx, "fast", []byte("f")); err != nil {
		t.Fatalf("fast request behind a blocked one: %v", err)
	}
	select {
	case err := <-slow:
		t.Fatalf("blocked request answered early: %v", err)
	default:
	}
	close(b.release)
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
}

// rawConn is a test's own end of a native connection, to send anything.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	br io.Reader
}

func rawDial(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, nc: nc, br: nc}
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) send(req Request) {
	r.t.Helper()
	f, err := newFrameEncoder().appendFrame(nil, &req)
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(f)
}

// sendBody sends body in a frame with a correct length prefix.
func (r *rawConn) sendBody(body []byte) {
	r.t.Helper()
	r.write(binary.BigEndian.AppendUint32(nil, uint32(len(body))))
	r.write(body)
}

func (r *rawConn) recv() Response {
	r.t.Helper()
	var hdr [HeaderSize]byte
	if _, err := io.ReadFull(r.br, hdr[:]); err != nil {
		r.t.Fatalf("reading a response: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(r.br, body); err != nil {
		r.t.Fatalf("reading a response: %v", err)
	}
	var resp Response
	if err := newFrameDecoder().response(body, &resp); err != nil {
		r.t.Fatal(err)
	}
	return resp
}

// expectClosed checks that the server closed the connection without
// answering.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	b, err := io.ReadAll(r.br)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		r.t.Fatalf("want the connection closed, got %v", err)
	}
	if len(b) > 0 {
		r.t.Fatalf("want the connection closed without an answer, got %d bytes", len(b))
	}
}

// On the wire: two requests in one write, the first blocked; the second's
// response comes first, each with its own id.
func TestWireOutOfOrder(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, b, ServerOptions{})
	rc := rawDial(t, addr)
	enc := newFrameEncoder()
	f, _ := enc.appendFrame(nil, &Request{ID: 1, Op: paxi.Put, Key: "block", Value: []byte("a")})
	f, _ = enc.appendFrame(f, &Request{ID: 2, Op: paxi.Put, Key: "free", Value: []byte("b")})
	rc.write(f)
	if r := rc.recv(); r.ID != 2 || r.Err != "" {
		t.Fatalf("first response %+v, want id 2", r)
	}
	close(b.release)
	if r := rc.recv(); r.ID != 1 || r.Err != "" {
		t.Fatalf("second response %+v, want id 1", r)
	}
}

// Malformed requests whose id can be read are answered with an error and
// the connection stays usable.
func TestBadRequestsAnswered(t *testing.T) {
	_, addr := startServer(t, newFakeBackend(), ServerOptions{MaxValueBytes: 1000})
	rc := rawDial(t, addr)
	tests := []struct {
		req  Request
		want string
	}{
		{Request{ID: 1, Op: 7, Key: "k"}, "unknown op 7"},
		{Request{ID: 2, Op: paxi.Noop, Key: "k"}, "unknown op 3"},
		{Request{ID: 3, Op: paxi.Get, Key: ""}, "bad key"},
		{Request{ID: 4, Op: paxi.Get, Key: "a/b"}, "bad key"},
		{Request{ID: 5, Op: paxi.Put, Key: strings.Repeat("k", 257), Value: []byte{}}, "bad key"},
		{Request{ID: 6, Op: paxi.Put, Key: "k", Value: make([]byte, 1001)}, "over max_body_bytes"},
		{Request{ID: 7, Op: paxi.Get, Key: "k", Value: []byte("x")}, "carries no value"},
		{Request{ID: 8, Op: paxi.Get, Key: "k", CommandID: 3}, "command id without client id"},
		{Request{ID: 9, Op: paxi.Get, Key: "k", ClientID: strings.Repeat("c", 129)}, "client id of 129 bytes"},
		{Request{ID: 10, Op: paxi.Put, Key: "k", Value: make([]byte, 5000)}, "over the 2024-byte limit"},
	}
	for _, tt := range tests {
		rc.send(tt.req)
		r := rc.recv()
		if r.ID != tt.req.ID || !strings.Contains(r.Err, tt.want) {
			t.Errorf("request %d: answer %+v, want an error containing %q", tt.req.ID, r, tt.want)
		}
	}
	// Bodies that are not requests but start with one's id.
	for _, h := range hostileBodies {
		if !h.idOK {
			continue
		}
		rc.sendBody(h.body)
		if r := rc.recv(); r.ID != 5 || !strings.Contains(r.Err, "bad request") {
			t.Errorf("%s: answer %+v, want a bad request error for id 5", h.name, r)
		}
	}
	rc.send(Request{ID: 99, Op: paxi.Put, Key: "k", Value: []byte("ok")})
	if r := rc.recv(); r.ID != 99 || r.Err != "" {
		t.Fatalf("valid request after the bad ones: %+v", r)
	}
}

// Framing garbage closes the connection, and only that connection: the
// server keeps serving others.
func TestGarbageClosesConnection(t *testing.T) {
	_, addr := startServer(t, newFakeBackend(), ServerOptions{})
	tests := []struct {
		name string
		data []byte
	}{
		{"absurd length", []byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3}},
		{"empty frame", []byte{0, 0, 0, 0}},
		{"HTTP request", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"body without an id", append(binary.BigEndian.AppendUint32(nil, 5), "hello"...)},
		{"oversized frame without an id", append(binary.BigEndian.AppendUint32(nil, 1<<22), "\x81\x01\x02 and more bytes"...)},
	}
	for _, h := range hostileBodies {
		if !h.idOK && len(h.body) > 0 {
			tests = append(tests, struct {
				name string
				data []byte
			}{h.name, append(binary.BigEndian.AppendUint32(nil, uint32(len(h.body))), h.body...)})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := rawDial(t, addr)
			rc.write(tt.data)
			rc.expectClosed()
		})
	}
	c := dial(t, addr, "", ClientOptions{})
	if _, err := c.Put(ctxT(t), "k", []byte("v")); err != nil {
		t.Fatalf("server stopped serving after garbage: %v", err)
	}
}

// Random bytes, random frames: the server neither crashes nor stops
// serving. (A crash would kill the test binary.)
func TestRandomInput(t *testing.T) {
	_, addr := startServer(t, newFakeBackend(), ServerOptions{MaxValueBytes: 4096})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		rc := rawDial(t, addr)
		rc.nc.SetDeadline(time.Now().Add(2 * time.Second))
		var data []byte
		switch i % 3 {
		case 0: // raw noise
			data = make([]byte, rng.IntN(200))
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
		case 1: // well-framed noise
			for range 1 + rng.IntN(5) {
				body := make([]byte, 1+rng.IntN(100))
				for j := range body {
					body[j] = byte(rng.Uint32())
				}
				data = append(binary.BigEndian.AppendUint32(data, uint32(len(body))), body...)
			}
		case 2: // a valid request with bytes flipped
			f, _ := newFrameEncoder().appendFrame(nil, &Request{ID: uint64(i), Op: paxi.Put, Key: "key", Value: []byte("value"), ClientID: "c", CommandID: 9})
			for range 1 + rng.IntN(3) {
				j := HeaderSize + rng.IntN(len(f)-HeaderSize)
				f[j] = byte(rng.Uint32())
			}
			data = f
		}
		rc.write(data)
		if tcp, ok := rc.nc.(*net.TCPConn); ok {
			tcp.CloseWrite()
		}
		io.Copy(io.Discard, rc.nc) // answers, then EOF or a reset
		rc.nc.Close()
	}
	c := dial(t, addr, "", ClientOptions{})
	if _, err := c.Put(ctxT(t), "k", []byte("v")); err != nil {
		t.Fatalf("server stopped serving after random input: %v", err)
	}
}

// A client that sends requests and closes its side still gets every
// answer: the server finishes what is in flight before it closes.
func TestHalfCloseAnswersInFlight(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, b, ServerOptions{})
	rc := rawDial(t, addr)
	for i := range 10 {
		rc.send(Request{ID: uint64(i), Op: paxi.Put, Key: "block" + strconv.Itoa(i), Value: []byte("v")})
	}
	rc.nc.(*net.TCPConn).CloseWrite()
	time.Sleep(20 * time.Millisecond)
	close(b.release)
	seen := map[uint64]bool{}
	for range 10 {
		r := rc.recv()
		if r.Err != "" || seen[r.ID] {
			t.Fatalf("response %+v (seen %v)", r, seen)
		}
		seen[r.ID] = true
	}
	rc.expectClosed()
}

// The server executes at most MaxInFlight requests of a connection at once.
func TestInFlightBound(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, b, ServerOptions{MaxInFlight: 3})
	rc := rawDial(t, addr)
	for i := range 20 {
		rc.send(Request{ID: uint64(i), Op: paxi.Get, Key: "block" + strconv.Itoa(i)})
	}
	time.Sleep(50 * time.Millisecond)
	if n := b.running.Load(); n != 3 {
		t.Fatalf("%d requests executing, want 3", n)
	}
	close(b.release)
	for range 20 {
		if r := rc.recv(); r.Err != "" {
			t.Fatal(r.Err)
		}
	}
	if p := b.peak.Load(); p > 3 {
		t.Fatalf("peak of %d requests at once, want at most 3", p)
	}
}

// A command not executed within the request timeout is answered with an
// error, which the client returns as a ServerError.
func TestServerRequestTimeout(t *testing.T) {
	_, addr := startServer(t, newFakeBackend(), ServerOptions{RequestTimeout: 50 * time.Millisecond})
	c := dial(t, addr, "", ClientOptions{})
	start := time.Now()
	_, err := c.Get(ctxT(t), "block")
	var se *ServerError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "not executed") || !strings.Contains(se.Message, paxi.ErrTimeout.Error()) {
		t.Fatalf("error %v, want a ServerError saying the command was not executed", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("answered after %v", d)
	}
}

func TestBackendPanicAnswered(t *testing.T) {
	_, addr := startServer(t, newFakeBackend(), ServerOptions{})
	c := dial(t, addr, "", ClientOptions{})
	var se *ServerError
	if _, err := c.Get(ctxT(t), "panic"); !errors.As(err, &se) || !strings.Contains(se.Message, "internal error") {
		t.Fatalf("error %v, want an internal error", err)
	}
	if _, err := c.Put(ctxT(t), "k", []byte("v")); err != nil {
		t.Fatalf("after a backend panic: %v", err)
	}
}

// A caller's deadline ends its wait; the connection stays usable and the
// late answer is dropped.
func TestClientContextDeadline(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, b, ServerOptions{})
	c := dial(t, addr, "", ClientOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Get(ctx, "block")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d < 40*time.Millisecond || d > time.Second {
		t.Fatalf("returned after %v, want about 50ms", d)
	}
	// The option Timeout bounds calls without a deadline.
	c2 := dial(t, addr, "", ClientOptions{Timeout: 30 * time.Millisecond})
	if _, err := c2.Get(context.Background(), "block-2"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with ClientOptions.Timeout: %v", err)
	}
	close(b.release) // the abandoned requests complete now; their answers are dropped
	for _, cl := range []*Client{c, c2} {
		if _, err := cl.Put(ctxT(t), "k", []byte("v")); err != nil {
			t.Fatalf("after a timeout: %v", err)
		}
	}
}

// When the server goes away, every waiting caller fails with
// ErrConnection; the next call dials again and works once a server is
// back at the address.
func TestClientReconnects(t *testing.T) {
	b := newFakeBackend()
	s, addr := startServer(t, b, ServerOptions{})
	c := dial(t, addr, "re", ClientOptions{Timeout: 5 * time.Second})
	ctx := ctxT(t)
	if _, err := c.Put(ctx, "k", []byte("1")); err != nil {
		t.Fatal(err)
	}
	const waiters = 10
	errs := make(chan error, waiters)
	for i := range waiters {
		go func() {
			_, err := c.Get(ctx, "block"+strconv.Itoa(i))
			errs <- err
		}()
	}
	for b.running.Load() < waiters {
		time.Sleep(time.Millisecond)
	}
	s.Close()
	for range waiters {
		if err := <-errs; !errors.Is(err, ErrConnection) {
			t.Fatalf("waiter got %v, want ErrConnection", err)
		}
	}
	if _, err := c.Get(ctx, "k"); !errors.Is(err, ErrConnection) {
		t.Fatalf("call with no server: %v, want ErrConnection", err)
	}
	s2 := NewServer(b, quietLogger(t), ServerOptions{})
	defer s2.Close()
	if _, err := s2.Start(addr); err != nil {
		t.Fatal(err)
	}
	r, err := c.Get(ctx, "k")
	if err != nil || string(r.Value) != "1" {
		t.Fatalf("after the server came back: %+v %v", r, err)
	}
}

// Close fails the waiting callers with ErrClosed, and every later call.
func TestClientClose(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, b, ServerOptions{})
	c := dial(t, addr, "", ClientOptions{})
	errc := make(chan error, 1)
	go func() {
		_, err := c.Get(context.Background(), "block")
		errc <- err
	}()
	for b.running.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	c.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("waiter: %v, want ErrClosed", err)
	}
	if _, err := c.Get(context.Background(), "k"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}

// A server that answers garbage breaks the client's connection; callers
// get an error, not a wrong answer.
func TestClientRejectsGarbageResponse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				var hdr [4]byte
				io.ReadFull(nc, hdr[:])
				nc.Write([]byte{0xff, 0xff, 0xff, 0xff, 0x00})
				io.Copy(io.Discard, nc)
			}()
		}
	}()
	c := dial(t, ln.Addr().String(), "", ClientOptions{MaxFrame: 1 << 20})
	if _, err := c.Get(ctxT(t), "k"); !errors.Is(err, ErrConnection) || !errors.Is(err, ErrBadFrame) {
		t.Fatalf("error %v, want ErrConnection wrapping ErrBadFrame", err)
	}
}

func TestDialFails(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Dial(addr, "", ClientOptions{DialTimeout: time.Second}); !errors.Is(err, ErrConnection) {
		t.Fatalf("dial of a closed port: %v", err)
	}
}

// Close returns while requests are blocked in the backend, and Serve
// reports ErrServerClosed.
func TestServerCloseStopsServe(t *testing.T) {
	b := newFakeBackend()
	s := NewServer(b, quietLogger(t), ServerOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	rc := rawDial(t, ln.Addr().String())
	rc.send(Request{ID: 1, Op: paxi.Get, Key: "block"})
	for b.running.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs")
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	if err := s.Serve(ln); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Close: %v", err)
	}
}

func TestAddrFor(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8081", "127.0.0.1:9081"},
		{"http://localhost:8083/", "localhost:9083"},
		{"127.0.0.1:8082", "127.0.0.1:9082"},
		{"http://[::1]:8081", "[::1]:9081"},
		{"http://example.com", "example.com:1080"},
	}
	for _, tt := range tests {
		if got, err := AddrFor(tt.in); err != nil || got != tt.want {
			t.Errorf("AddrFor(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"http://h:65000", "http://h:0", "http://h:x", "ftp://h", "%%"} {
		if got, err := AddrFor(bad); err == nil {
			t.Errorf("AddrFor(%q) = %q, want an error", bad, got)
		}
	}
}
