package native

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/paxi"
)

// ClientOptions tune a Client; the zero value gives the defaults.
type ClientOptions struct {
	// Timeout bounds each request that the caller's context does not bound
	// more tightly (0: none; a stuck server then hangs callers without a
	// deadline of their own, so set it, as client.NewREST's timeout).
	// Requests share timers, so it may fire up to Timeout/16 (at most
	// 100 ms) late; the error then wraps context.DeadlineExceeded.
	Timeout time.Duration
	// DialTimeout bounds each connection attempt (default 5 s).
	DialTimeout time.Duration
	// MaxFrame is the largest response frame accepted (default
	// DefaultMaxResponseFrame); a larger one breaks the connection.
	MaxFrame int
}

// ErrClosed is returned by calls on a closed Client.
var ErrClosed = errors.New("native: client closed")

// ErrConnection is wrapped by the errors of requests that failed because
// no connection could be made or their connection broke; in the latter case
// the request may or may not have been executed. The next call dials again.
var ErrConnection = errors.New("native: connection failed")

// ServerError is a request the server answered with an error: it was
// malformed, or its command was not executed in time.
type ServerError struct {
	Message string
}

// Error returns the server's message, marked as the server's.
func (e *ServerError) Error() string { return "native: server: " + e.Message }

// Client is a Go client of the native protocol: the same operations as
// client.REST, multiplexed over one TCP connection. It is safe for
// concurrent use, and concurrent requests share the connection (their
// frames leave in one write when they are issued together). After the
// connection breaks, every request waiting on it fails with an error
// wrapping ErrConnection and the next call dials again.
type Client struct {
	addr string
	id   string
	opts ClientOptions
	cid  atomic.Uint64 // last command id used
	rid  atomic.Uint64 // last request id used
	// timeouts enforces opts.Timeout (nil: none) with shared timers.
	timeouts *deadlines

	mu      sync.Mutex
	cc      *clientConn   // nil before the first dial and after a break
	dialing chan struct{} // closed when the dial in progress ends
	closed  bool
}

// Dial connects to the native server at addr (host:port) as clientID (""
// sends no ids, and the server names each command itself). The connection
// is made now, so that an unreachable server is reported at once.
func Dial(addr, clientID string, opts ClientOptions) (*Client, error) {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.MaxFrame <= 0 {
		opts.MaxFrame = DefaultMaxResponseFrame
	}
	if len(clientID) > maxClientID {
		return nil, fmt.Errorf("native: client id of %d bytes: at most %d", len(clientID), maxClientID)
	}
	c := &Client{addr: addr, id: clientID, opts: opts}
	if opts.Timeout > 0 {
		c.timeouts = newDeadlines(context.Background(), opts.Timeout)
	}
	// Command ids start from the clock, not from 1: a cluster remembers
	// recent (client id, command id) pairs to deduplicate retries, so a new
	// client reusing an id (the same benchmark run twice) must not reuse
	// command ids too, or it would be handed the old answers.
	c.cid.Store(uint64(time.Now().UnixNano()))
	if _, err := c.conn(context.Background()); err != nil {
		return nil, err
	}
	return c, nil
}

// Addr returns the server address the client talks to.
func (c *Client) Addr() string { return c.addr }

// Close closes the connection; requests waiting on it fail with ErrClosed,
// and later calls too.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	cc := c.cc
	c.cc = nil
	c.mu.Unlock()
	if cc != nil {
		cc.fail(ErrClosed)
	}
	return nil
}

// Get reads key. A key without a value returns client.ErrNotFound.
func (c *Client) Get(ctx context.Context, key string) (client.Response, error) {
	return c.Do(ctx, paxi.Get, key, nil)
}

// Put writes value to key. The client does not keep value after Put
// returns.
func (c *Client) Put(ctx context.Context, key string, value []byte) (client.Response, error) {
	if value == nil {
		value = []byte{} // nil means "no value" on the wire
	}
	return c.Do(ctx, paxi.Put, key, value)
}

// Delete deletes key.
func (c *Client) Delete(ctx context.Context, key string) (client.Response, error) {
	return c.Do(ctx, paxi.Delete, key, nil)
}

// Do sends one command with the next command id.
func (c *Client) Do(ctx context.Context, op paxi.Op, key string, value []byte) (client.Response, error) {
	return c.DoID(ctx, op, key, value, c.cid.Add(1))
}

// DoID sends one command with the given command id: retrying with the same
// id is safe, the cluster executes it once.
func (c *Client) DoID(ctx context.Context, op paxi.Op, key string, value []byte, cid uint64) (client.Response, error) {
	var timeout <-chan struct{}
	if c.timeouts != nil {
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > c.opts.Timeout {
			timeout = c.timeouts.get().Done()
		}
	}
	resp, err := c.roundTrip(ctx, timeout, op, key, value, cid)
	if err != nil {
		return client.Response{Slot: -1}, fmt.Errorf("native: %v %s: %w", op, key, err)
	}
	r := client.Response{Value: resp.Value, Found: resp.Found, Slot: resp.Slot, Version: resp.Version}
	if !r.Found {
		r.Value = nil
		if op == paxi.Get {
			return r, client.ErrNotFound
		}
	}
	return r, nil
}

// roundTrip sends one request and waits for its response, for ctx, or for
// timeout to be closed (nil: no timeout but ctx's).
func (c *Client) roundTrip(ctx context.Context, timeout <-chan struct{}, op paxi.Op, key string, value []byte, cid uint64) (Response, error) {
	if err := ctx.Err(); err != nil {
		return Response{}, err
	}
	req := Request{ID: c.rid.Add(1), Op: op, Key: key, Value: value}
	if c.id != "" {
		req.ClientID, req.CommandID = c.id, cid
	}
	cl := callPool.Get().(*call)
	var cc *clientConn
	for attempt := 0; ; attempt++ {
		var err error
		if cc, err = c.conn(ctx); err != nil {
			callPool.Put(cl)
			return Response{}, err
		}
		err = cc.send(&req, cl)
		if err == nil {
			break
		}
		if attempt > 0 || !errors.Is(err, ErrConnection) {
			callPool.Put(cl)
			return Response{}, err
		}
		// The connection broke before the request was queued on it, so
		// the request was never sent: try once on a new connection.
	}
	select {
	case <-cl.done:
		resp, err := cl.resp, cl.err
		cl.resp, cl.err = Response{}, nil
		callPool.Put(cl)
		if err != nil {
			return Response{}, err
		}
		if resp.Err != "" {
			return Response{}, &ServerError{Message: resp.Err}
		}
		return resp, nil
	case <-ctx.Done():
		c.abandon(cc, req.ID, cl)
		return Response{}, ctx.Err()
	case <-timeout:
		c.abandon(cc, req.ID, cl)
		return Response{}, fmt.Errorf("no answer within %v: %w", c.opts.Timeout, context.DeadlineExceeded)
	}
}

// abandon stops waiting for request id.
func (c *Client) abandon(cc *clientConn, id uint64, cl *call) {
	if cc.forget(id) {
		callPool.Put(cl) // nobody else holds it
	} // else the reader is delivering to it: leave it to the collector
}

// conn returns the live connection, dialing if there is none. Callers
// arriving during a dial wait for it, or for their context.
func (c *Client) conn(ctx context.Context) (*clientConn, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		if cc := c.cc; cc != nil && !cc.broken.Load() {
			c.mu.Unlock()
			return cc, nil
		}
		if ch := c.dialing; ch != nil {
			c.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		c.dialing = ch
		c.cc = nil
		c.mu.Unlock()

		cc, err := c.dial(ctx)
		c.mu.Lock()
		c.dialing = nil
		if err == nil && c.closed {
			cc.fail(ErrClosed)
			cc, err = nil, ErrClosed
		}
		c.cc = cc
		c.mu.Unlock()
		close(ch)
		return cc, err
	}
}

func (c *Client) dial(ctx context.Context) (*clientConn, error) {
	d := net.Dialer{Timeout: c.opts.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnection, err)
	}
	cc := &clientConn{
		nc:       nc,
		addr:     c.addr,
		maxFrame: c.opts.MaxFrame,
		pending:  map[uint64]*call{},
		enc:      newFrameEncoder(),
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	go cc.writeLoop()
	go cc.readLoop()
	return cc, nil
}

// call is a request waiting for its response.
type call struct {
	done chan struct{} // receives one signal when resp or err is set
	resp Response
	err  error
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

// clientConn is one connection of a Client: callers encode their frames
// into a shared buffer, a writer goroutine writes the buffer whenever it is
// not empty (so frames issued together leave in one system call), and a
// reader goroutine hands each response to its caller.
type clientConn struct {
	nc       net.Conn
	addr     string
	maxFrame int
	broken   atomic.Bool

	mu      sync.Mutex
	pending map[uint64]*call // nil once broken
	buf     []byte           // frames not yet handed to the writer
	enc     *frameEncoder
	err     error // why the connection broke

	spare []byte        // the writer's other buffer
	kick  chan struct{} // tells the writer that buf is not empty
	done  chan struct{} // closed when the connection breaks
}

// send registers cl under req.ID and queues req's frame.
func (cc *clientConn) send(req *Request, cl *call) error {
	cc.mu.Lock()
	if cc.pending == nil {
		err := cc.err
		cc.mu.Unlock()
		return err
	}
	b, err := cc.enc.appendFrame(cc.buf, req)
	if err != nil {
		cc.mu.Unlock()
		return err
	}
	cc.buf = b
	cc.pending[req.ID] = cl
	cc.mu.Unlock()
	select {
	case cc.kick <- struct{}{}:
	default: // the writer has been told already
	}
	return nil
}

// forget drops the call waiting for id; false if it is no longer waiting
// (its response, or the connection's failure, is being delivered).
func (cc *clientConn) forget(id uint64) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if _, ok := cc.pending[id]; !ok {
		return false
	}
	delete(cc.pending, id)
	return true
}

// fail breaks the connection: it closes the socket and fails every waiting
// call with err. Only the first call has an effect.
func (cc *clientConn) fail(err error) {
	cc.mu.Lock()
	if cc.pending == nil {
		cc.mu.Unlock()
		return
	}
	if !errors.Is(err, ErrClosed) {
		err = fmt.Errorf("%w to %s: %w", ErrConnection, cc.addr, err)
	}
	cc.err = err
	pending := cc.pending
	cc.pending = nil
	cc.buf = nil
	cc.broken.Store(true)
	cc.mu.Unlock()
	close(cc.done)
	cc.nc.Close()
	for _, cl := range pending {
		cl.err = err
		cl.done <- struct{}{}
	}
}

func (cc *clientConn) writeLoop() {
	for {
		select {
		case <-cc.kick:
		case <-cc.done:
			return
		}
		// Let callers that are about to send add their frames first.
		runtime.Gosched()
		for {
			cc.mu.Lock()
			b := cc.buf
			if len(b) == 0 {
				cc.mu.Unlock()
				break
			}
			cc.buf = cc.spare[:0]
			cc.mu.Unlock()
			if _, err := cc.nc.Write(b); err != nil {
				cc.fail(err)
				return
			}
			if cap(b) <= 1<<20 {
				cc.spare = b[:0]
			} else {
				cc.spare = nil // do not keep a burst's buffer
			}
		}
	}
}

func (cc *clientConn) readLoop() {
	br := bufio.NewReaderSize(cc.nc, 64<<10)
	dec := newFrameDecoder()
	var big []byte
	for {
		hdr, err := br.Peek(HeaderSize)
		if err != nil {
			cc.fail(unexpected(err))
			return
		}
		n := int(binary.BigEndian.Uint32(hdr))
		br.Discard(HeaderSize)
		if n == 0 || n > cc.maxFrame {
			cc.fail(fmt.Errorf("%w: response frame of %d bytes (limit %d)", ErrBadFrame, n, cc.maxFrame))
			return
		}
		var body []byte
		inBuf := n <= br.Size()
		if inBuf {
			body, err = br.Peek(n)
		} else {
			if cap(big) < n {
				big = make([]byte, n)
			}
			body = big[:n]
			_, err = io.ReadFull(br, body)
		}
		if err != nil {
			cc.fail(unexpected(err))
			return
		}
		var resp Response
		err = dec.response(body, &resp)
		if inBuf {
			br.Discard(n)
		}
		if err != nil {
			cc.fail(err)
			return
		}
		cc.mu.Lock()
		cl := cc.pending[resp.ID]
		delete(cc.pending, resp.ID)
		cc.mu.Unlock()
		if cl != nil {
			cl.resp = resp
			cl.done <- struct{}{}
		}
	}
}
