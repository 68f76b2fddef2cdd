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
// server is stuck; the stream is then given up.
const writeTimeout = 30 * time.Second

// executor feeds the inputs this replica executes, in execution order, to
// the local server: one server connection per stream. It owns the streams
// on its own goroutine; the store's OnApply hook only queues commands, so
// the replica's event loop never waits for the server.
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

	// Owned by run.
	streams map[string]*stream
	last    *stream // the stream written last: the only one that may owe replies
	timer   *time.Timer
	fed     atomic.Uint64 // inputs handled, for tests and status
}

// stream is one client connection as seen by this replica's server.
type stream struct {
	name string
	next uint64 // sequence number of the next input expected
	conn *net.TCPConn
	reqs Counter
	sent int64 // complete requests written (executor goroutine only)

	reps     Counter       // reply reader goroutine only
	answered atomic.Int64  // complete replies read
	notify   chan struct{} // capacity 1: answered grew
	gone     chan struct{} // closed when the server connection is closed
	sink     *sink         // the client, if it is connected to this replica
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
		for _, s := range e.streams {
			s.conn.Close()
		}
	}()
	var batch []paxi.Command
	for {
		select {
		case <-e.wake:
		case <-e.done:
			return
		}
		e.mu.Lock()
		batch, e.queue = e.queue, batch[:0]
		e.mu.Unlock()
		for i, c := range batch {
			if err := e.apply(c); err != nil {
				e.log.Error("smr: the local server cannot follow the log; this replica stops serving clients", "server", e.addr, "err", err)
				e.fail(err)
				<-e.done
				return
			}
			batch[i] = paxi.Command{} // let the bytes go
			select {
			case <-e.done:
				return
			default:
			}
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
		if s != nil {
			return nil // a duplicate
		}
		conn, err := net.DialTimeout("tcp", e.addr, dialTimeout)
		if err != nil {
			return fmt.Errorf("connect to %s for %s: %w", e.addr, in.Stream, err)
		}
		tcp, ok := conn.(*net.TCPConn)
		if !ok {
			conn.Close()
			return fmt.Errorf("connect to %s: not a TCP connection", e.addr)
		}
		tcp.SetNoDelay(true)
		s = &stream{
			name: in.Stream, next: in.Seq + 1, conn: tcp,
			reqs: e.dialect.Requests(), reps: e.dialect.Replies(),
			notify: make(chan struct{}, 1), gone: make(chan struct{}),
			sink: e.sinks.get(in.Stream),
		}
		e.streams[in.Stream] = s
		go e.readReplies(s)
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
		n := s.reqs.Feed(in.Bytes)
		if e.last != nil && e.last != s {
			e.settle(e.last)
		}
		e.last = s
		s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := s.conn.Write(in.Bytes); err != nil {
			// The server closed this connection (QUIT, a protocol error,
			// CLIENT KILL): every replica's server did the same at the
			// same point, so the rest of the stream is ignored everywhere.
			e.log.Debug("smr: write to the server failed", "stream", in.Stream, "err", err)
			return nil
		}
		s.sent += int64(n)
	case Close:
		if s == nil || in.Seq < s.next {
			return nil
		}
		e.closeStream(s)
	}
	return nil
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

// closeStream ends the input of a stream the way the client ended it: the
// server reads end-of-file after the requests already written, answers them
// and closes; the reply reader then forwards the last replies and closes
// the client. The stream's owed replies still order the next input.
func (e *executor) closeStream(s *stream) {
	delete(e.streams, s.name)
	if err := s.conn.CloseWrite(); err != nil {
		s.conn.Close()
	}
}

// settle waits until the server has answered every complete request of s,
// so that it has executed them before it sees input on another connection:
// that is what makes every replica's server execute the inputs in log
// order, whatever order it would pick among connections with input pending.
// A request that gets no answer within the wait bound (a blocking command
// such as BLPOP, or CLIENT REPLY OFF) gives up the guarantee for that
// stream; it is logged.
func (e *executor) settle(s *stream) {
	if s.answered.Load() >= s.sent {
		return
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
	for s.answered.Load() < s.sent {
		select {
		case <-s.notify:
		case <-s.gone:
			return
		case <-e.done:
			return
		case <-e.timer.C:
			e.log.Warn("smr: the server did not answer in time; the next input may be executed out of order",
				"stream", s.name, "requests", s.sent, "answered", s.answered.Load(), "wait", e.wait)
			s.sent = s.answered.Load()
			return
		}
	}
}

// readReplies reads the server's output on one stream, counts the replies
// and forwards them to the client if it is connected here; other replicas'
// copies of the output are dropped.
func (e *executor) readReplies(s *stream) {
	defer close(s.gone)
	buf := make([]byte, 32<<10)
	for {
		n, err := s.conn.Read(buf)
		if n > 0 {
			if s.sink != nil {
				s.sink.write(buf[:n])
			}
			if k := s.reps.Feed(buf[:n]); k > 0 {
				s.answered.Add(int64(k))
				select {
				case s.notify <- struct{}{}:
				default:
				}
			}
		}
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				e.log.Debug("smr: server connection ended", "stream", s.name, "err", err)
			}
			s.conn.Close()
			if s.sink != nil {
				s.sink.close()
			}
			return
		}
	}
}
