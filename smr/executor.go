package smr

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/store"
)

// dialTimeout bounds a connection to the local server; it is on loopback,
// so failing to connect means the server is gone.
const dialTimeout = 5 * time.Second

// writeTimeout bounds a write of input to the local server. Redis reads
// every connection continually, so a write that blocks this long means the
// server is stuck.
const writeTimeout = 30 * time.Second

// sharedFlush is how many bytes of shared requests the executor gathers
// before it writes them, if its queue of inputs does not run dry first.
const sharedFlush = 64 << 10

// executor feeds the inputs this replica executes, in execution order, to
// the local server. It owns the streams on its own goroutine; the store's
// OnApply hook only queues commands, so the replica's event loop never
// waits for the server.
//
// Requests that the dialect calls Shared go to the server on one shared
// connection, pipelined, in log order: the server executes them in exactly
// that order and answers in the same order, which routes every reply to its
// stream. A stream's first Private request moves it to a connection of its
// own for good. Before the executor writes to a connection other than the
// one it wrote last, it waits until the server has answered every request
// written there (settle), so the server never reorders inputs across
// connections either.
type executor struct {
	addr    string
	dialect Dialect
	wait    time.Duration
	log     *slog.Logger
	sinks   *sinks

	mu      sync.Mutex
	queue   []paxi.Command
	wake    chan struct{} // capacity 1
	done    chan struct{} // closed by stop
	exited  chan struct{} // closed when run returns
	failed  chan struct{} // closed when err is set
	err     error
	stopped sync.Once

	// owners are the streams of the requests on the shared connection
	// that have not been answered, oldest first: the executor appends,
	// the shared reply reader pops.
	ownersMu sync.Mutex
	owners   []*stream

	// Owned by run.
	streams map[string]*stream
	shared  *backend // nil until the first shared request
	pending []byte   // shared requests not written yet
	last    *backend // the connection written last: the only one that may owe replies
	timer   *time.Timer
	fed     atomic.Uint64 // inputs handled, for tests and status
}

// backend is one connection to the server.
type backend struct {
	conn     *net.TCPConn
	sent     int64         // requests written (executor goroutine only)
	answered atomic.Int64  // replies read
	notify   chan struct{} // capacity 1: answered grew
	gone     chan struct{} // closed when the reader has stopped
}

// stream is one client connection as this replica's server sees it.
type stream struct {
	name    string
	next    uint64 // sequence number of the next input expected
	reqs    Requests
	partial []byte   // an incomplete shared-path request
	own     *backend // the stream's own connection, once it needs one
	sink    *sink    // the client, if it is connected to this replica

	mu     sync.Mutex
	owed   int  // replies still to come on the shared connection
	closed bool // the client closed its side
}

func newExecutor(addr string, d Dialect, wait time.Duration, log *slog.Logger, ss *sinks) *executor {
	e := &executor{
		addr: addr, dialect: d, wait: wait, log: log, sinks: ss,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		exited:  make(chan struct{}),
		failed:  make(chan struct{}),
		streams: make(map[string]*stream),
		timer:   time.NewTimer(time.Hour),
	}
	e.timer.Stop()
	go e.run()
	return e
}

// observe is the store's OnApply hook. It runs on the replica's event loop
// and only queues.
func (e *executor) observe(c store.Command, _ store.Result) {
	if c.Key != Key {
		return // not an input: another client of the cluster
	}
	e.mu.Lock()
	e.queue = append(e.queue, c)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// stop ends the executor and closes every server connection.
func (e *executor) stop() {
	e.stopped.Do(func() { close(e.done) })
	<-e.exited
}

// fail records that this replica's server can no longer follow the log.
func (e *executor) fail(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil {
		e.err = err
		close(e.failed)
		e.log.Error("smr: the local server cannot follow the log; this replica stops serving clients", "server", e.addr, "err", err)
	}
}

func (e *executor) error() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

func (e *executor) run() {
	defer close(e.exited)
	defer func() {
		if e.shared != nil {
			e.shared.conn.Close()
		}
		for _, s := range e.streams {
			if s.own != nil {
				s.own.conn.Close()
			}
		}
	}()
	var batch []paxi.Command
	for {
		select {
		case <-e.wake:
		case <-e.failed:
			<-e.done
			return
		case <-e.done:
			return
		}
		e.mu.Lock()
		batch, e.queue = e.queue, batch[:0]
		e.mu.Unlock()
		for i, c := range batch {
			err := e.apply(c)
			batch[i] = paxi.Command{} // let the bytes go
			if err != nil {
				e.fail(err)
				break
			}
		}
		if err := e.flush(); err != nil {
			e.fail(err)
		}
	}
}

// apply feeds one input to the server. An error means the server is gone.
func (e *executor) apply(c paxi.Command) error {
	in, err := ParseInput(c)
	if err != nil {
		e.log.Warn("smr: ignoring a command on the input key", "err", err)
		return nil
	}
	e.fed.Add(1)
	s := e.streams[in.Stream]
	switch in.Kind {
	case Restart:
		e.restart(in.Stream)
	case Open:
		if s == nil {
			e.streams[in.Stream] = &stream{
				name: in.Stream, next: in.Seq + 1,
				reqs: e.dialect.Requests(),
				sink: e.sinks.get(in.Stream),
			}
		}
	case Data:
		if s == nil || in.Seq < s.next {
			return nil // a duplicate, or a stream already closed
		}
		if in.Seq > s.next {
			// The proxy sends an input only after the previous one was
			// executed, so a gap means a broken proxy or a forged input.
			e.log.Error("smr: input out of sequence; closing the stream", "stream", in.Stream, "seq", in.Seq, "want", s.next)
			e.closeStream(s)
			return nil
		}
		s.next++
		return e.data(s, in.Bytes)
	case Close:
		if s != nil && in.Seq >= s.next {
			e.closeStream(s)
		}
	}
	return nil
}

// data feeds a chunk of a stream's input: shared requests to the shared
// connection, whole; from the first private request on, everything to the
// stream's own connection, as it comes.
func (e *executor) data(s *stream, b []byte) error {
	for s.own == nil && len(b) > 0 {
		n, f := s.reqs.Scan(b)
		req := b[:n]
		if len(s.partial) > 0 || f == Partial {
			s.partial = append(s.partial, req...)
			req = s.partial
		}
		b = b[n:]
		switch f {
		case Partial:
			return nil
		case Blank:
			// Nothing for the server to do.
		case Shared:
			if err := e.writeShared(s, req); err != nil {
				return err
			}
		case Private:
			rest := append(slices.Clip(req), b...)
			s.partial = nil
			return e.writeOwn(s, rest, 1+countRequests(s.reqs, b))
		}
		s.partial = s.partial[:0]
	}
	if len(b) == 0 {
		return nil
	}
	return e.writeOwn(s, b, countRequests(s.reqs, b))
}

// writeShared queues one whole request for the shared connection.
func (e *executor) writeShared(s *stream, req []byte) error {
	if e.shared == nil {
		b, err := e.dial()
		if err != nil {
			return err
		}
		e.shared = b
		go e.readShared(b)
	}
	if e.last != e.shared {
		if err := e.settle(e.last); err != nil {
			return err
		}
		e.last = e.shared
	}
	s.mu.Lock()
	s.owed++
	s.mu.Unlock()
	e.ownersMu.Lock()
	e.owners = append(e.owners, s)
	e.ownersMu.Unlock()
	e.pending = append(e.pending, req...)
	e.shared.sent++
	if len(e.pending) >= sharedFlush {
		return e.flush()
	}
	return nil
}

// flush writes the queued shared requests.
func (e *executor) flush() error {
	if len(e.pending) == 0 || e.shared == nil {
		return nil
	}
	e.shared.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := e.shared.conn.Write(e.pending)
	e.pending = e.pending[:0]
	if err != nil {
		return fmt.Errorf("write to the shared server connection: %w", err)
	}
	return nil
}

// writeOwn writes input holding n requests to the stream's own connection,
// opening it first if needed.
func (e *executor) writeOwn(s *stream, b []byte, n int) error {
	if s.own == nil {
		own, err := e.dial()
		if err != nil {
			return err
		}
		s.own = own
		go e.readOwn(own, s)
	}
	if e.last != s.own {
		if err := e.settle(e.last); err != nil {
			return err
		}
		e.last = s.own
	}
	s.own.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := s.own.conn.Write(b); err != nil {
		// The server closed this connection (QUIT, a protocol error,
		// CLIENT KILL): every replica's server did the same at the same
		// point, so the rest of the stream is ignored everywhere.
		e.log.Debug("smr: write to the server failed", "stream", s.name, "err", err)
		return nil
	}
	s.own.sent += int64(n)
	return nil
}

func (e *executor) dial() (*backend, error) {
	conn, err := net.DialTimeout("tcp", e.addr, dialTimeout)
	if err != nil {
		return nil, fmt.Errorf("connect to the server at %s: %w", e.addr, err)
	}
	tcp, ok := conn.(*net.TCPConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("connect to %s: not a TCP connection", e.addr)
	}
	tcp.SetNoDelay(true)
	return &backend{conn: tcp, notify: make(chan struct{}, 1), gone: make(chan struct{})}, nil
}

// restart closes the streams of the earlier incarnations of the proxy that
// sent a Restart input: their clients died with it.
func (e *executor) restart(name string) {
	inc, node, ok := incarnation(name)
	if !ok {
		return
	}
	var old []string
	for n := range e.streams {
		if strings.HasPrefix(n, node) && !strings.HasPrefix(n, inc) {
			old = append(old, n)
		}
	}
	slices.Sort(old) // the same order on every replica
	for _, n := range old {
		e.closeStream(e.streams[n])
	}
	if len(old) > 0 {
		e.log.Info("smr: a proxy restarted; closed its old connections", "proxy", node, "streams", len(old))
	}
}

// closeStream ends the input of a stream the way the client ended it. On
// its own connection, the server reads end-of-file after the requests
// already written, answers them and closes, and the reply reader then
// closes the client. On the shared connection, the client is closed once
// its last reply has been forwarded.
func (e *executor) closeStream(s *stream) {
	delete(e.streams, s.name)
	if s.own != nil {
		if err := s.own.conn.CloseWrite(); err != nil {
			s.own.conn.Close()
		}
		return
	}
	s.mu.Lock()
	s.closed = true
	finished := s.owed == 0
	s.mu.Unlock()
	if finished && s.sink != nil {
		s.sink.close()
	}
}

// settle waits until the server has answered every request written on b,
// so that it has executed them before it sees input on another connection:
// that is what makes every replica's server execute the inputs in log
// order, whatever order it would pick among connections with input pending.
// A private request that gets no answer within the wait bound (a blocking
// command such as BLPOP, or CLIENT REPLY OFF) gives up the guarantee for
// that point of the log; it is logged. An error means the shared
// connection failed.
func (e *executor) settle(b *backend) error {
	if b == nil {
		return nil
	}
	if b == e.shared {
		if err := e.flush(); err != nil {
			return err
		}
	}
	if b.answered.Load() >= b.sent {
		return nil
	}
	e.timer.Reset(e.wait)
	defer func() {
		if !e.timer.Stop() {
			select {
			case <-e.timer.C:
			default:
			}
		}
	}()
	for b.answered.Load() < b.sent {
		select {
		case <-b.notify:
		case <-b.gone:
			if b == e.shared {
				return errors.New("the shared server connection closed")
			}
			return nil
		case <-e.done:
			return nil
		case <-e.timer.C:
			e.log.Warn("smr: the server did not answer in time; the next input may be executed out of order",
				"requests", b.sent, "answered", b.answered.Load(), "wait", e.wait)
			b.sent = b.answered.Load()
			return nil
		}
	}
	return nil
}

// readShared reads the server's replies on the shared connection and
// forwards each to the client of the request it answers, if that client is
// connected to this replica; other replicas' copies are dropped.
func (e *executor) readShared(b *backend) {
	defer close(b.gone)
	reps := e.dialect.Replies()
	buf := make([]byte, 64<<10)
	var owner *stream
	for {
		n, err := b.conn.Read(buf)
		data := buf[:n]
		answered := 0
		for len(data) > 0 {
			if owner == nil {
				e.ownersMu.Lock()
				if len(e.owners) > 0 {
					owner = e.owners[0]
					e.owners[0] = nil
					e.owners = e.owners[1:]
				}
				e.ownersMu.Unlock()
				if owner == nil {
					e.fail(errors.New("the server sent a reply nobody asked for on the shared connection"))
					b.conn.Close()
					return
				}
			}
			k, end := reps.Scan(data)
			if owner.sink != nil {
				owner.sink.write(data[:k])
			}
			data = data[k:]
			if end {
				answered++
				owner.mu.Lock()
				owner.owed--
				finished := owner.closed && owner.owed == 0
				owner.mu.Unlock()
				if finished && owner.sink != nil {
					owner.sink.close()
				}
				owner = nil
			}
		}
		if answered > 0 {
			b.answered.Add(int64(answered))
			select {
			case b.notify <- struct{}{}:
			default:
			}
		}
		if err != nil {
			select {
			case <-e.done:
			default:
				e.fail(fmt.Errorf("the shared server connection failed: %w", err))
			}
			b.conn.Close()
			return
		}
	}
}

// readOwn reads the server's output on a stream's own connection, counts
// the replies and forwards the bytes to the client if it is connected
// here. When the server closes the connection, the client is closed too.
func (e *executor) readOwn(b *backend, s *stream) {
	defer close(b.gone)
	reps := e.dialect.Replies()
	buf := make([]byte, 32<<10)
	for {
		n, err := b.conn.Read(buf)
		if n > 0 {
			if s.sink != nil {
				s.sink.write(buf[:n])
			}
			if k := countReplies(reps, buf[:n]); k > 0 {
				b.answered.Add(int64(k))
				select {
				case b.notify <- struct{}{}:
				default:
				}
			}
		}
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				e.log.Debug("smr: server connection ended", "stream", s.name, "err", err)
			}
			b.conn.Close()
			if s.sink != nil {
				s.sink.close()
			}
			return
		}
	}
}
