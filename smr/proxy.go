package smr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ailidani/paxi-style/paxi"
)

// Submitter orders a command through the replication protocol and returns
// once it has been executed; *node.Node is one.
type Submitter interface {
	Do(ctx context.Context, cmd paxi.Command) (paxi.Reply, error)
}

// Options configure a Proxy; Server is required.
type Options struct {
	// Server is the host:port of this replica's copy of the server program.
	Server string
	// Dialect frames the server's protocol; nil means Redis.
	Dialect Dialect
	// ReplyWait bounds how long the executor waits for the server to answer
	// one connection's requests before it feeds input on another (see
	// DefaultReplyWait).
	ReplyWait time.Duration
	// RequestTimeout bounds one attempt to order an input; a failed attempt
	// is retried with the same sequence number until it succeeds (0: 5s).
	RequestTimeout time.Duration
	// ReadSize is the largest input chunk: one read of a client connection
	// (0: 64 KiB).
	ReadSize int
	// Logger receives the proxy's logs; nil discards them.
	Logger *slog.Logger
}

// DefaultReplyWait is the default Options.ReplyWait: far above the time
// Redis needs for any ordinary command on loopback, so that only requests
// that wait by design (blocking commands) reach it.
const DefaultReplyWait = 2 * time.Second

// Proxy is the state-machine-replication front end of one replica: it turns
// client connections into ordered inputs (Serve) and feeds the inputs this
// replica executes to its own copy of the server (through the protocol
// returned by Protocol). See the package comment for the design.
type Proxy struct {
	id    paxi.ID
	inc   string // this incarnation: streams are named smr/<id>/<inc>/<n>
	opts  Options
	log   *slog.Logger
	sinks sinks
	exec  *executor

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	nconn  atomic.Uint64
	wg     sync.WaitGroup

	mu    sync.Mutex
	lns   []net.Listener
	conns map[net.Conn]struct{}
}

// New returns the proxy of replica id, feeding the server at opts.Server.
// It connects to the server only when inputs arrive.
func New(id paxi.ID, opts Options) (*Proxy, error) {
	if opts.Server == "" {
		return nil, errors.New("smr: no server address")
	}
	if opts.Dialect == nil {
		opts.Dialect = Redis
	}
	if opts.ReplyWait <= 0 {
		opts.ReplyWait = DefaultReplyWait
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 5 * time.Second
	}
	if opts.ReadSize <= 0 {
		opts.ReadSize = 64 << 10
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("node", id.String())
	p := &Proxy{
		id:    id,
		inc:   strconv.FormatInt(time.Now().UnixNano(), 36),
		opts:  opts,
		log:   log,
		conns: make(map[net.Conn]struct{}),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.exec = newExecutor(opts.Server, opts.Dialect, opts.ReplyWait, log, &p.sinks)
	return p, nil
}

// Protocol returns proto with one change: every replica it creates reports
// the commands it executes to this proxy (store.OnApply), which feeds the
// inputs among them to the server. Give it to node.New instead of proto.
func (p *Proxy) Protocol(proto paxi.Protocol) paxi.Protocol {
	out := proto
	out.New = func(env paxi.Env) (paxi.Replica, error) {
		env.Store().OnApply(p.exec.observe)
		return proto.New(env)
	}
	if proto.Recover != nil {
		out.Recover = func(env paxi.Env, durable any) (paxi.Replica, error) {
			env.Store().OnApply(p.exec.observe)
			return proto.Recover(env, durable)
		}
	}
	return out
}

// Failed is closed when this replica's server stopped following the log
// (it died, or refused a connection); Err then says why. The replica's
// copy of the state is lost: stop the replica, and restart it with a fresh
// server, which replays the log.
func (p *Proxy) Failed() <-chan struct{} { return p.exec.failed }

// Err returns why the proxy failed, or nil.
func (p *Proxy) Err() error { return p.exec.error() }

// Fed returns how many inputs the executor has handled.
func (p *Proxy) Fed() uint64 { return p.exec.fed.Load() }

// Serve accepts client connections on ln and submits their inputs through
// sub until Close. It first announces this incarnation (a Restart input),
// so replicas drop the connections of the proxy's previous life.
func (p *Proxy) Serve(ln net.Listener, sub Submitter) error {
	p.mu.Lock()
	if p.ctx.Err() != nil {
		p.mu.Unlock()
		ln.Close()
		return net.ErrClosed
	}
	p.lns = append(p.lns, ln)
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		restart := Input{Stream: p.stream(0), Seq: 1, Kind: Restart}
		if err := p.submit(sub, restart); err != nil && p.ctx.Err() == nil {
			p.log.Warn("smr: could not announce the restart", "err", err)
		}
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if p.ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("smr: accept: %w", err)
		}
		select {
		case <-p.exec.failed:
			conn.Close() // this replica's server is gone: clients go elsewhere
			continue
		default:
		}
		p.mu.Lock()
		p.conns[conn] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serveClient(conn, sub)
			p.mu.Lock()
			delete(p.conns, conn)
			p.mu.Unlock()
		}()
	}
}

// Close stops accepting clients, disconnects those connected and stops
// feeding the server.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.cancel()
	for _, ln := range p.lns {
		ln.Close()
	}
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	p.exec.stop()
	return nil
}

func (p *Proxy) stream(n uint64) string {
	return streamPrefix + p.id.String() + "/" + p.inc + "/" + strconv.FormatUint(n, 10)
}

// serveClient turns one client connection into a stream: Open, a Data
// input per read, Close. Each input is submitted only after the previous
// one was executed, which keeps the stream in order in the log whatever
// the protocol does with concurrent commands; while one is being ordered,
// the next bytes accumulate in the socket and leave as one bigger input.
func (p *Proxy) serveClient(conn net.Conn, sub Submitter) {
	name := p.stream(p.nconn.Add(1))
	out := newSink(conn)
	p.sinks.add(name, out)
	defer p.sinks.remove(name)
	seq := uint64(1)
	if err := p.submit(sub, Input{Stream: name, Seq: seq, Kind: Open}); err != nil {
		out.close()
		return
	}
	buf := make([]byte, p.opts.ReadSize)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			seq++
			if err := p.submit(sub, Input{Stream: name, Seq: seq, Kind: Data, Bytes: buf[:n]}); err != nil {
				out.close()
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				p.log.Debug("smr: client connection ended", "stream", name, "err", err)
			}
			break
		}
	}
	seq++
	if err := p.submit(sub, Input{Stream: name, Seq: seq, Kind: Close}); err != nil {
		out.close()
	}
	// The server's last replies and its end of the connection reach the
	// client through the sink, which the executor closes.
	select {
	case <-out.finished:
	case <-p.exec.failed:
		out.close()
	case <-p.ctx.Done():
		out.close()
	}
}

// submit orders one input, retrying it (same stream and sequence number,
// so it is executed once) until it is executed or the proxy closes.
func (p *Proxy) submit(sub Submitter, in Input) error {
	cmd := in.Command()
	backoff := 10 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(p.ctx, p.opts.RequestTimeout)
		_, err := sub.Do(ctx, cmd)
		cancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, paxi.ErrStopped) || p.ctx.Err() != nil {
			return err
		}
		p.log.Debug("smr: input not ordered yet; retrying", "stream", in.Stream, "seq", in.Seq, "err", err)
		select {
		case <-time.After(backoff):
		case <-p.ctx.Done():
			return p.ctx.Err()
		}
		backoff = min(2*backoff, time.Second)
	}
}
