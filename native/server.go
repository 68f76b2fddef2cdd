package native

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/paxi"
)

// ServerOptions tune a Server; the zero value gives the defaults.
type ServerOptions struct {
	// MaxValueBytes is the largest value a Put may carry, the REST API's
	// max_body_bytes (default 1 MiB). A request frame may be this plus 1 KiB
	// long; a longer one is answered with an error and skipped, up to
	// 256 MiB, beyond which the length is taken for garbage and the
	// connection closed.
	MaxValueBytes int64
	// MaxInFlight bounds the requests of one connection being executed at
	// once (default 1024). The reader stops reading the connection when it
	// is reached, so a client that pipelines without limit is slowed by
	// TCP's flow control instead of growing the server's memory.
	MaxInFlight int
	// RequestTimeout is how long a request may wait for its command to be
	// executed before it is answered with an error (default 5 s), the REST
	// API's request_timeout. Requests of a connection share timers, so a
	// timeout may fire up to RequestTimeout/16 (at most 100 ms) late.
	RequestTimeout time.Duration
}

// OptionsFor returns the server options a node of cfg uses: the same
// limits as its REST API.
func OptionsFor(cfg *paxi.Config) ServerOptions {
	return ServerOptions{MaxValueBytes: cfg.MaxBodyBytes, RequestTimeout: time.Duration(cfg.RequestTimeout)}
}

func (o ServerOptions) withDefaults() ServerOptions {
	if o.MaxValueBytes <= 0 {
		o.MaxValueBytes = 1 << 20
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 1024
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Second
	}
	return o
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("native: server closed")

// Server serves the native protocol in front of a client.Backend, the same
// interface the REST API serves, so that a node (or the floor's bare store)
// is reachable both ways at once. It is safe for concurrent use.
type Server struct {
	b    client.Backend
	log  *slog.Logger
	opts ServerOptions

	mu     sync.Mutex
	lns    map[net.Listener]struct{}
	conns  map[*serverConn]struct{}
	closed bool
	wg     sync.WaitGroup // Serve loops and connections
}

// NewServer returns a server executing requests with b.Do. log receives
// connection errors (nil: slog.Default()). Call Serve or Start to accept
// connections.
func NewServer(b client.Backend, log *slog.Logger, opts ServerOptions) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{b: b, log: log, opts: opts.withDefaults(),
		lns: map[net.Listener]struct{}{}, conns: map[*serverConn]struct{}{}}
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves it in the
// background until Close, returning the bound address. It is Serve for
// callers that have nothing else to do with the listener.
func (s *Server) Start(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("native: %w", err)
	}
	go func() {
		if err := s.Serve(ln); err != nil && !errors.Is(err, ErrServerClosed) {
			s.log.Error("native server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return ln.Addr(), nil
}

// Serve accepts connections on ln until Close (then it returns
// ErrServerClosed) or until ln fails. It closes ln when it returns.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.lns[ln] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
		ln.Close()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of file descriptors, or a transient error: wait
				// rather than spin, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("native: accept", "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("native: accept: %w", err)
		}
		backoff = 0
		if !s.add(nc) {
			nc.Close()
			return ErrServerClosed
		}
	}
}

// Close stops every Serve, closes every connection (requests in flight are
// abandoned: their clients see the connection break) and waits for the
// server's goroutines to end.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.lns {
		ln.Close()
	}
	conns := make([]*serverConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	s.wg.Wait()
	return nil
}

// add starts serving nc, unless the server is closed.
func (s *Server) add(nc net.Conn) bool {
	ctx, cancel := context.WithCancel(context.Background())
	c := &serverConn{
		s:      s,
		nc:     nc,
		ctx:    ctx,
		cancel: cancel,
		out:    make(chan Response, s.opts.MaxInFlight+64),
		sem:    make(chan struct{}, s.opts.MaxInFlight),
		done:   make(chan struct{}),
		dec:    newFrameDecoder(),
	}
	c.maxFrame = int(min(s.opts.MaxValueBytes+frameOverhead, hardFrameLimit))
	c.deadlines = newDeadlines(ctx, s.opts.RequestTimeout)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(2)
	s.mu.Unlock()
	go c.readLoop()
	go c.writeLoop()
	return true
}

func (s *Server) remove(c *serverConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// serverConn is one client connection: a reader goroutine that decodes
// requests and starts one goroutine per request, and a writer goroutine
// that encodes the responses in the order they complete.
type serverConn struct {
	s         *Server
	nc        net.Conn
	ctx       context.Context // cancelled when the connection closes
	cancel    context.CancelFunc
	out       chan Response // responses for the writer
	sem       chan struct{} // one token per request being executed
	done      chan struct{} // closed by close
	once      sync.Once
	handlers  sync.WaitGroup
	dec       *frameDecoder // the reader's
	deadlines *deadlines    // the requests' contexts
	maxFrame  int
}

// close tears the connection down at once. Safe to call more than once and
// from any goroutine.
func (c *serverConn) close() {
	c.once.Do(func() {
		// The socket first: a request whose context the cancel ends must
		// not get its "not executed" answer out before the connection
		// breaks (its client is told the connection failed, as it is).
		close(c.done)
		c.nc.Close()
		c.cancel()
	})
}

// readLoop reads frames until the connection fails or the client closes
// it. Frames it cannot parse as far as a request id end the connection;
// every other problem is answered.
func (c *serverConn) readLoop() {
	defer c.s.wg.Done()
	br := bufio.NewReaderSize(c.nc, 64<<10)
	err := c.read(br)
	if errors.Is(err, io.EOF) {
		// The client closed its side at a frame boundary: answer what is
		// in flight, then let the writer flush and close.
		c.handlers.Wait()
		close(c.out)
		return
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		c.s.log.Debug("native: closing connection", "remote", c.nc.RemoteAddr().String(), "err", err)
	}
	c.close()
	c.handlers.Wait()
}

func (c *serverConn) read(br *bufio.Reader) error {
	var big []byte // body of frames larger than br's buffer
	for {
		hdr, err := br.Peek(HeaderSize)
		if err != nil {
			if len(hdr) > 0 && errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		n := int(binary.BigEndian.Uint32(hdr))
		br.Discard(HeaderSize)
		if n == 0 {
			return fmt.Errorf("%w: empty frame", ErrBadFrame)
		}
		if n > c.maxFrame {
			if err := c.skipLarge(br, n); err != nil {
				return err
			}
			continue
		}
		var body []byte
		inBuf := n <= br.Size()
		if inBuf {
			// Decode in place: the request's strings and value are copies.
			if body, err = br.Peek(n); err != nil {
				return unexpected(err)
			}
		} else {
			if cap(big) < n {
				big = make([]byte, n)
			}
			body = big[:n]
			if _, err := io.ReadFull(br, body); err != nil {
				return unexpected(err)
			}
		}
		var req Request
		idOK, err := c.dec.request(body, &req)
		if inBuf {
			br.Discard(n)
		}
		if err != nil {
			if !idOK {
				return err
			}
			if !c.send(Response{ID: req.ID, Err: "bad request: " + err.Error()}) {
				return net.ErrClosed
			}
			continue
		}
		if msg := c.validate(&req); msg != "" {
			if !c.send(Response{ID: req.ID, Err: msg}) {
				return net.ErrClosed
			}
			continue
		}
		select {
		case c.sem <- struct{}{}:
		case <-c.done:
			return net.ErrClosed
		}
		c.handlers.Add(1)
		if sub, ok := c.s.b.(Submitter); ok {
			c.submit(sub, req)
			continue
		}
		go c.execute(c.deadlines.get(), req)
	}
}

// Submitter is implemented by backends that can take a command without a
// goroutine waiting for it (a node: node.Submit). The server then hands
// each request over from its reader and is called back with the reply,
// instead of running one goroutine per request that blocks in Do. done must
// be called exactly once; it may run on any goroutine and must not be
// blocked on by the backend for long (the server queues the response
// without waiting).
type Submitter interface {
	Submit(cmd paxi.Command, timeout time.Duration, done func(paxi.Reply, error))
}

// submit hands req to a Submitter; the callback queues the response.
func (c *serverConn) submit(sub Submitter, req Request) {
	id := req.ID
	sub.Submit(paxi.Command{Op: req.Op, Key: req.Key, Value: req.Value, ClientID: req.ClientID, CommandID: req.CommandID},
		c.s.opts.RequestTimeout, func(rep paxi.Reply, err error) {
			resp := Response{ID: id}
			if err != nil {
				resp.Err = "command not executed: " + err.Error()
			} else {
				resp.Value, resp.Found, resp.Version, resp.Slot = rep.Result.Value, rep.Result.Found, rep.Result.Version, rep.Slot
			}
			c.complete(resp)
		})
}

// complete queues the response of a submitted request for the writer
// without blocking its caller (a node's event loop): the queue has room for
// every request in flight unless the writer has fallen far behind, and then
// a goroutine waits for room instead.
func (c *serverConn) complete(r Response) {
	select {
	case c.out <- r:
		<-c.sem
		c.handlers.Done()
	default:
		go func() {
			c.send(r)
			<-c.sem
			c.handlers.Done()
		}()
	}
}

// skipLarge answers a frame over the size limit without reading it into
// memory: it decodes the request id from the frame's first bytes, discards
// the rest and answers an error. A frame beyond hardFrameLimit, or whose
// start is not a request, is garbage.
func (c *serverConn) skipLarge(br *bufio.Reader, n int) error {
	if n > hardFrameLimit {
		return fmt.Errorf("%w: frame length %d (limit %d)", ErrBadFrame, n, c.maxFrame)
	}
	head, err := br.Peek(min(n, 16))
	if err != nil {
		return unexpected(err)
	}
	var req Request
	if idOK, _ := c.dec.request(head, &req); !idOK {
		return fmt.Errorf("%w: frame length %d (limit %d) and no request id", ErrBadFrame, n, c.maxFrame)
	}
	if _, err := br.Discard(n); err != nil {
		return unexpected(err)
	}
	msg := fmt.Sprintf("bad request: %d-byte request over the %d-byte limit (max_body_bytes %d)", n, c.maxFrame, c.s.opts.MaxValueBytes)
	if !c.send(Response{ID: req.ID, Err: msg}) {
		return net.ErrClosed
	}
	return nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// validate checks what the REST API checks; it returns the error message,
// or "".
func (c *serverConn) validate(r *Request) string {
	switch r.Op {
	case paxi.Get, paxi.Delete:
		if r.Value != nil {
			return fmt.Sprintf("bad request: a %v carries no value", r.Op)
		}
	case paxi.Put:
		if int64(len(r.Value)) > c.s.opts.MaxValueBytes {
			return fmt.Sprintf("bad request: value of %d bytes over max_body_bytes %d", len(r.Value), c.s.opts.MaxValueBytes)
		}
	default:
		return fmt.Sprintf("bad request: unknown op %d (want 0 get, 1 put, 2 delete)", r.Op)
	}
	if !client.ValidKey(r.Key) {
		k := r.Key
		if len(k) > 64 {
			k = k[:64] + "..."
		}
		return fmt.Sprintf("bad request: bad key %q: want 1 to %d characters from [A-Za-z0-9._~-]", k, client.MaxKeyLen)
	}
	if len(r.ClientID) > maxClientID {
		return fmt.Sprintf("bad request: client id of %d bytes: at most %d", len(r.ClientID), maxClientID)
	}
	if r.ClientID == "" && r.CommandID != 0 {
		return "bad request: command id without client id"
	}
	return ""
}

// execute runs one request with a context from c.deadlines and queues its
// response.
func (c *serverConn) execute(ctx context.Context, req Request) {
	defer c.handlers.Done()
	defer func() { <-c.sem }()
	resp := Response{ID: req.ID}
	defer func() {
		if p := recover(); p != nil {
			// net/http recovers a handler's panic; so do we, rather than
			// take the node down for one request.
			c.s.log.Error("native: backend panic", "request", req.Key, "panic", p)
			c.send(Response{ID: req.ID, Err: fmt.Sprintf("internal error: %v", p)})
		}
	}()
	rep, err := c.s.b.Do(ctx, paxi.Command{Op: req.Op, Key: req.Key, Value: req.Value, ClientID: req.ClientID, CommandID: req.CommandID})
	if err != nil {
		resp.Err = "command not executed: " + err.Error()
	} else {
		resp.Value, resp.Found, resp.Version, resp.Slot = rep.Result.Value, rep.Result.Found, rep.Result.Version, rep.Slot
	}
	c.send(resp)
}

// send queues a response for the writer; false if the connection is gone.
func (c *serverConn) send(r Response) bool {
	select {
	case c.out <- r:
		return true
	case <-c.done:
		return false
	}
}

// writeLoop encodes responses into a buffered writer and flushes it when
// no response is waiting: one write system call carries every response
// that completed while the previous one was in progress.
func (c *serverConn) writeLoop() {
	defer c.s.wg.Done()
	defer c.s.remove(c)
	defer c.close()
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	enc := newFrameEncoder()
	var scratch []byte
	write := func(r *Response) bool {
		b, err := enc.appendFrame(scratch[:0], r)
		if err != nil {
			c.s.log.Error("native: encoding a response", "err", err)
			b, _ = enc.appendFrame(scratch[:0], &Response{ID: r.ID, Err: "internal error: " + err.Error()})
		}
		if cap(b) <= 1<<20 {
			scratch = b[:0]
		}
		_, err = bw.Write(b)
		return err == nil
	}
	for {
		var r Response
		var ok bool
		select {
		case r, ok = <-c.out:
		case <-c.done:
			return
		}
		for ok {
			if !write(&r) {
				return
			}
			select {
			case r, ok = <-c.out:
				continue
			default:
			}
			// Nothing waiting: let runnable handlers finish first, so
			// that their responses share this write.
			runtime.Gosched()
			select {
			case r, ok = <-c.out:
				continue
			default:
			}
			break
		}
		if err := bw.Flush(); err != nil || !ok {
			return
		}
	}
}
