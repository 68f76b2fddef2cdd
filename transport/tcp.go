package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ailidani/paxi-style/paxi"
)

// MaxFrameSize is the largest TCP frame (one encoded message) a node sends
// or accepts. A receiver checks the length prefix against it before
// allocating, so four garbage bytes cannot make it allocate gigabytes; a
// sender drops, and logs, a message whose encoding is larger.
const MaxFrameSize = 64 << 20

// Reconnection back-off: after a failed dial (or a connection that died
// young) a writer waits backoffMin, doubling up to backoffMax, before it
// dials again. A connection that lived at least backoffMax resets it.
const (
	backoffMin = 10 * time.Millisecond
	backoffMax = time.Second
)

const (
	// dialTimeout bounds one connection attempt to a peer that does not
	// answer at all (a host that is down, not just a process).
	dialTimeout = 2 * time.Second
	// helloTimeout bounds how long an accepted connection may stay silent
	// before sending its hello, so stray connections do not pile up.
	helloTimeout = 5 * time.Second
	// bufferSize is the size of the bufio buffers on each connection.
	bufferSize = 64 << 10
	// readChunk is how much a reader allocates at a time for a large
	// frame, so a forged length costs memory only as data actually arrives.
	readChunk = 1 << 20
	// keepBuffer is the largest scratch buffer a connection keeps between
	// frames; a larger one (after a rare huge message) is released.
	keepBuffer = 4 << 20
)

// helloMagic opens the hello frame. It names the protocol and its version,
// so a connection from something else (a port scanner, an HTTP client, an
// older build) is rejected at its first bytes.
var helloMagic = [4]byte{'p', 'x', 'i', '1'}

// helloSize is the payload length of a hello frame: magic and sender ID.
const helloSize = 8

// TCP is the stream transport. Every frame on the wire is a 4-byte
// big-endian length followed by that many bytes of Codec output.
//
// Each node listens on its address for incoming connections and keeps one
// outgoing connection per peer, dialled lazily by the peer's writer
// goroutine, so messages from a to b always travel on a's connection and
// per-link FIFO follows from TCP's. The dialler's first frame is a hello
// carrying its ID: the acceptor then knows who is talking without trusting
// the (possibly NATed or ephemeral) remote address.
//
// The writer drains its peer's queue into a bufio.Writer and flushes only
// when the queue is empty, so a burst of small messages shares syscalls and
// packets. When a peer is down or restarts, the writer redials with
// exponential back-off (10ms to 1s); while it waits, its queue fills and
// Send reports ErrQueueFull.
//
// A reader that gets a bad frame (garbage, a forged length, an unknown
// type) logs a warning and closes that one connection; the dialler then
// reconnects. A peer that goes away is logged once, not once per retry.
type TCP struct {
	base
	codec *Codec
	ln    net.Listener
	addrs map[paxi.ID]string
	peers map[paxi.ID]*tcpPeer // immutable after NewTCP

	// ctx cancels dials in progress when the transport closes.
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	conns map[net.Conn]struct{} // every open connection, closed by Close
}

// tcpPeer is the sending side of one link.
type tcpPeer struct {
	id    paxi.ID
	addr  string
	queue chan paxi.Message
}

// NewTCP starts the TCP transport of node self. addrs maps every node of
// the cluster, self included, to its host:port. It listens at once, so a
// port already in use is an error here rather than a silent failure later;
// peers are dialled on the first message to them.
func NewTCP(self paxi.ID, addrs map[paxi.ID]string, codec *Codec, opts Options) (*TCP, error) {
	if codec == nil {
		return nil, errors.New("transport: NewTCP: nil codec")
	}
	addr, ok := addrs[self]
	if !ok {
		return nil, fmt.Errorf("transport: NewTCP: node %v has no address", self)
	}
	opts, err := opts.withDefaults("tcp", self)
	if err != nil {
		return nil, err
	}
	ln := opts.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("transport: node %v: listen: %w", self, err)
		}
	}
	t := &TCP{
		codec: codec,
		ln:    ln,
		addrs: maps.Clone(addrs),
		peers: make(map[paxi.ID]*tcpPeer, len(addrs)),
		conns: make(map[net.Conn]struct{}),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.init(self, opts, len(addrs))
	for id, a := range t.addrs {
		if id == self {
			continue
		}
		p := &tcpPeer{id: id, addr: a, queue: make(chan paxi.Message, opts.QueueSize)}
		t.peers[id] = p
		t.wg.Go(func() { t.writeLoop(p) })
	}
	t.wg.Go(t.acceptLoop)
	t.log.Debug("listening", "addr", ln.Addr())
	return t, nil
}

// Addr is the address the transport listens on (useful with a :0 listener).
func (t *TCP) Addr() net.Addr { return t.ln.Addr() }

// Send implements Transport.
func (t *TCP) Send(to paxi.ID, m paxi.Message) error {
	if t.closed() {
		return ErrClosed
	}
	if !t.codec.Registered(m) {
		return fmt.Errorf("%w: %T", ErrUnregistered, m)
	}
	if to == t.self {
		return t.sendSelf(m)
	}
	p, ok := t.peers[to]
	if !ok {
		return fmt.Errorf("%w: %v", ErrUnknownPeer, to)
	}
	return push(p.queue, m)
}

// Close implements Transport. It closes the listener and every connection,
// and waits for all of the transport's goroutines to exit.
func (t *TCP) Close() error {
	return t.shutdown(func() error {
		t.cancel()
		err := t.ln.Close()
		t.mu.Lock()
		for c := range t.conns {
			c.Close()
		}
		t.mu.Unlock()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
		return err
	})
}

// track registers an open connection so Close can close it. It refuses (and
// the caller closes c) once Close has begun: Close sets the closed flag
// before it takes mu, so no connection escapes it.
func (t *TCP) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed() {
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

func (t *TCP) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	c.Close()
}

// outConn is an outgoing connection. The acceptor never writes back, so a
// watcher goroutine blocks in Read, and when that returns (the peer closed
// or reset the connection) marks the connection dead. The writer checks the
// mark before writing, so a message sent after the peer restarted goes to
// the new incarnation instead of into a dead socket.
type outConn struct {
	net.Conn
	dead atomic.Bool
}

// writeLoop owns the link to one peer: it dials, streams the queue, and
// redials with back-off when the connection fails.
func (t *TCP) writeLoop(p *tcpPeer) {
	enc := newEncoder()
	backoff := backoffMin
	failures := 0 // consecutive failed dials or short-lived connections
	var m paxi.Message
	for {
		if m == nil {
			select {
			case m = <-p.queue:
			case <-t.done:
				return
			}
		}
		c, err := t.dial(p)
		if err != nil {
			if t.closed() {
				return
			}
			failures++
			t.logFailure(failures, "peer unreachable; retrying with back-off", "peer", p.id, "addr", p.addr, "err", err)
			if !t.wait(backoff) {
				return
			}
			backoff = min(2*backoff, backoffMax)
			continue
		}
		t.log.Debug("connected to peer", "peer", p.id, "addr", p.addr, "failed_attempts", failures)
		start := time.Now()
		m, err = t.stream(c, p, enc, m)
		t.untrack(c)
		if t.closed() {
			return
		}
		if time.Since(start) >= backoffMax {
			failures, backoff = 0, backoffMin
		}
		failures++
		t.logFailure(failures, "connection to peer lost; reconnecting", "peer", p.id, "addr", p.addr, "err", err)
		if failures > 1 {
			if !t.wait(backoff) {
				return
			}
			backoff = min(2*backoff, backoffMax)
		}
	}
}

// logFailure logs the first of a run of failures at info level and the
// rest at debug level: a peer that stays down is reported once, not once
// per retry (the original Paxi logged EOF in a tight loop).
func (t *TCP) logFailure(n int, msg string, args ...any) {
	if n == 1 {
		t.log.Info(msg, args...)
	} else {
		t.log.Debug(msg, append(args, "failures", n)...)
	}
}

// dial connects to a peer and starts the watcher of the new connection.
func (t *TCP) dial(p *tcpPeer) (*outConn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	nc, err := d.DialContext(t.ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	if !t.track(nc) {
		nc.Close()
		return nil, ErrClosed
	}
	c := &outConn{Conn: nc}
	t.wg.Go(func() {
		var b [1]byte
		_, _ = nc.Read(b[:])
		c.dead.Store(true)
		nc.Close()
	})
	return c, nil
}

// errPeerGone reports a connection found dead before a write.
var errPeerGone = errors.New("connection closed by peer")

// stream writes the hello and then first and every queued message to c,
// flushing whenever the queue runs empty. It returns when the connection
// fails or the transport closes. pending is a message taken from the queue
// but not yet written (the connection was already dead): the caller sends
// it on the next connection.
func (t *TCP) stream(c *outConn, p *tcpPeer, enc *encoder, first paxi.Message) (pending paxi.Message, err error) {
	bw := bufio.NewWriterSize(c, bufferSize)
	var hello [4 + helloSize]byte
	binary.BigEndian.PutUint32(hello[:4], helloSize)
	copy(hello[4:8], helloMagic[:])
	binary.BigEndian.PutUint32(hello[8:], uint32(t.self))
	_, _ = bw.Write(hello[:]) // an error is sticky: the next Flush returns it

	var scratch []byte
	m := first
	for {
		if c.dead.Load() {
			return m, errPeerGone
		}
		if scratch, err = t.writeFrame(bw, enc, scratch, p.id, m); err != nil {
			return nil, err
		}
		select {
		case m = <-p.queue:
			continue
		default:
		}
		if err := bw.Flush(); err != nil {
			return nil, err
		}
		select {
		case m = <-p.queue:
		case <-t.done:
			return nil, nil
		}
	}
}

// writeFrame encodes m into scratch and writes it as one frame. A message
// that cannot be encoded or is too large is logged and dropped: that is a
// bug in the message, not in the connection, which stays up.
func (t *TCP) writeFrame(bw *bufio.Writer, enc *encoder, scratch []byte, to paxi.ID, m paxi.Message) ([]byte, error) {
	frame, err := enc.encode(t.codec, append(scratch[:0], 0, 0, 0, 0), m)
	if err != nil {
		t.log.Error("cannot encode message; dropped", "peer", to, "type", fmt.Sprintf("%T", m), "err", err)
		return scratch, nil
	}
	if cap(frame) <= keepBuffer {
		scratch = frame[:0]
	}
	n := len(frame) - 4
	if n > MaxFrameSize {
		t.log.Error("message too large; dropped", "peer", to, "msg", m, "err",
			fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, n, MaxFrameSize))
		return scratch, nil
	}
	binary.BigEndian.PutUint32(frame, uint32(n))
	_, err = bw.Write(frame)
	return scratch, err
}

// acceptLoop accepts connections until the listener closes.
func (t *TCP) acceptLoop() {
	backoff := backoffMin
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if t.closed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors or similar: wait, do not spin.
			t.log.Warn("accept failed", "err", err)
			if !t.wait(backoff) {
				return
			}
			backoff = min(2*backoff, backoffMax)
			continue
		}
		backoff = backoffMin
		if !t.track(c) {
			c.Close()
			return
		}
		t.wg.Go(func() { t.readLoop(c) })
	}
}

// readLoop reads the hello and then frames from one accepted connection,
// pushing each message to Recv. Any bad input closes the connection.
func (t *TCP) readLoop(c net.Conn) {
	defer t.untrack(c)
	r := bufio.NewReaderSize(c, bufferSize)
	_ = c.SetReadDeadline(time.Now().Add(helloTimeout)) // fails only if c is closed
	from, err := t.readHello(r)
	switch {
	case err == nil:
	case t.closed():
		return
	case errors.Is(err, io.EOF):
		// Connected and hung up without a byte: a port probe.
		t.log.Debug("connection closed before hello", "remote", c.RemoteAddr())
		return
	default:
		t.log.Warn("rejected connection", "remote", c.RemoteAddr(), "err", err)
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	t.log.Debug("accepted connection", "peer", from, "remote", c.RemoteAddr())
	dec := newDecoder()
	var buf []byte
	for {
		buf, err = readFrame(r, buf)
		if err != nil {
			break
		}
		m, derr := dec.decode(t.codec, buf)
		if derr != nil {
			err = derr
			break
		}
		if !t.deliver(Envelope{From: from, To: t.self, Msg: m}) {
			return
		}
		if cap(buf) > keepBuffer {
			buf = nil
		}
	}
	switch {
	case t.closed():
	case errors.Is(err, ErrBadMessage):
		t.log.Warn("bad frame; closing connection", "peer", from, "remote", c.RemoteAddr(), "err", err)
	default:
		// EOF, reset: the peer closed or restarted. Its writer redials.
		t.log.Debug("connection closed", "peer", from, "remote", c.RemoteAddr(), "err", err)
	}
}

// readHello reads and checks the first frame of a connection.
func (t *TCP) readHello(r io.Reader) (paxi.ID, error) {
	var h [4 + helloSize]byte
	if _, err := io.ReadFull(r, h[:4]); err != nil {
		return 0, fmt.Errorf("reading hello: %w", err)
	}
	if n := binary.BigEndian.Uint32(h[:4]); n != helloSize {
		return 0, fmt.Errorf("%w: hello length %d, want %d (not a paxi peer?)", ErrBadMessage, n, helloSize)
	}
	if _, err := io.ReadFull(r, h[4:]); err != nil {
		return 0, fmt.Errorf("reading hello: %w", err)
	}
	if [4]byte(h[4:8]) != helloMagic {
		return 0, fmt.Errorf("%w: hello magic %q, want %q (not a paxi peer, or another version)", ErrBadMessage, h[4:8], helloMagic[:])
	}
	from := paxi.ID(binary.BigEndian.Uint32(h[8:]))
	if _, ok := t.addrs[from]; !ok || from == t.self {
		return 0, fmt.Errorf("%w: hello from node %v, which is not a peer (do the nodes share one config?)", ErrBadMessage, from)
	}
	return from, nil
}

// readFrame reads one length-prefixed frame into buf (reusing its memory)
// and returns it. The length is checked against MaxFrameSize first, and
// memory is allocated in readChunk steps as the data arrives.
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return buf, err
	}
	n := int(binary.BigEndian.Uint32(h[:]))
	if n == 0 || n > MaxFrameSize {
		return buf, fmt.Errorf("%w: frame length %d, must be in [1, %d]", ErrBadMessage, n, MaxFrameSize)
	}
	buf = buf[:0]
	for len(buf) < n {
		k := min(n-len(buf), max(readChunk, cap(buf)-len(buf)))
		buf = slices.Grow(buf, k)
		got, err := io.ReadFull(r, buf[len(buf):len(buf)+k])
		buf = buf[:len(buf)+got]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
	return buf, nil
}
