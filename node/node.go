package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/internal/cputime"
	"github.com/ailidani/paxi-style/metrics"
	"github.com/ailidani/paxi-style/native"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/store"
	"github.com/ailidani/paxi-style/transport"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// Options tune a Node beyond its configuration; the zero value is fine.
type Options struct {
	// Logger receives the node's logs; nil logs to stderr at the
	// configured level.
	Logger *slog.Logger
	// ChanNet is the in-process network for transport "chan"; nodes of one
	// cluster share it.
	ChanNet *transport.ChanNetwork
	// Listener, if set, is the transport's pre-bound TCP listener (tests
	// bind ":0" ports this way).
	Listener net.Listener
	// HTTPListener, if set, is the REST API's pre-bound listener.
	HTTPListener net.Listener
	// NativeListener, if set, is the native protocol's pre-bound listener;
	// otherwise the node listens at its native_address, if it has one.
	NativeListener net.Listener
	// Seed seeds the replica's random source; 0 picks one from the clock.
	Seed uint64
	// RDMAFabric is the emulated RDMA fabric that the nodes of this
	// process share, for protocols with Protocol.RDMA under rdma.backend
	// "mem" (see rdma.go).
	RDMAFabric *rdma.Mem
}

// Node is one running replica: the event loop, the transport (wrapped in
// fault injection) and the REST API.
type Node struct {
	id       paxi.ID
	cfg      *paxi.Config
	peers    []paxi.ID
	protocol paxi.Protocol
	replica  paxi.Replica
	store    *store.Store
	faults   *transport.Faulty
	log      *slog.Logger
	rand     *rand.Rand
	http     *http.Server
	httpLn   net.Listener
	native   *native.Server // nil without a native address
	nativeLn net.Listener
	metrics  *metrics.Node
	rdma     *rdmaState // nil unless the protocol uses RDMA

	calls   chan *call
	timerc  chan timerFire
	queries chan func()
	done    chan struct{}
	exited  chan struct{}
	stop    sync.Once
	// submitMu and submitClosed close Submit when the loop ends.
	submitMu     sync.RWMutex
	submitClosed bool

	// Owned by the event loop.
	local      []paxi.Message // messages to self, delivered after the current Step
	timers     map[paxi.TimerID]*time.Timer
	nextTimer  uint64
	waiters    map[uint64]*call
	submitted  []pending // Submit's calls in order, for their deadlines
	nextHandle uint64
	anon       string // client id given to commands without one
}

// call is a client request waiting for its reply.
type call struct {
	cmd  paxi.Command
	at   time.Time
	done chan paxi.Reply // buffered: the loop never blocks on it
	// cb, if set, is called on the event loop instead of sending on done
	// (see Submit); deadline is when it is answered with a timeout.
	cb       func(paxi.Reply, error)
	deadline time.Time
}

type timerFire struct {
	id  paxi.TimerID
	msg paxi.Message
}

// New creates node id of the cluster cfg running protocol p, binding its
// transport and REST ports. Call Run to start it and Close to stop it.
func New(cfg *paxi.Config, id paxi.ID, p paxi.Protocol, opts Options) (*Node, error) {
	if _, ok := cfg.Addrs[id]; !ok {
		return nil, fmt.Errorf("node %v: not in the configuration (nodes: %v)", id, cfg.IDs())
	}
	n := &Node{
		id:       id,
		cfg:      cfg,
		peers:    cfg.IDs(),
		protocol: p,
		store:    store.New(),
		log:      opts.Logger,
		calls:    make(chan *call, 1024),
		timerc:   make(chan timerFire, 64),
		queries:  make(chan func()),
		done:     make(chan struct{}),
		exited:   make(chan struct{}),
		timers:   make(map[paxi.TimerID]*time.Timer),
		waiters:  make(map[uint64]*call),
	}
	if n.log == nil {
		n.log = NewLogger(cfg.LogLevel)
	}
	base := n.log // the transport adds its own node attribute
	n.log = n.log.With("node", id.String())
	// Unique per process incarnation, so a restarted node never reuses the
	// (client id, command id) pairs of its previous life.
	n.anon = "@" + id.String() + "/" + strconv.FormatInt(time.Now().UnixNano(), 36)
	seed := opts.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	n.rand = rand.New(rand.NewPCG(seed, uint64(id)))

	codec := transport.NewCodec(p.Messages...)
	tr, err := transport.New(cfg, id, codec, opts.ChanNet, transport.Options{
		QueueSize: cfg.QueueSize, Logger: base, Listener: opts.Listener,
	})
	if err != nil {
		return nil, fmt.Errorf("node %v: transport: %w", id, err)
	}
	n.faults = transport.NewFaulty(tr, id, seed)
	for _, peer := range n.peers {
		if d := cfg.OneWay(id, peer); d > 0 && peer != id {
			n.faults.SetLatency(peer, d)
		}
	}

	n.httpLn = opts.HTTPListener
	if n.httpLn == nil {
		n.httpLn, err = net.Listen("tcp", cfg.HTTPHost(id))
		if err != nil {
			tr.Close()
			return nil, fmt.Errorf("node %v: REST API: %w", id, err)
		}
	}
	n.metrics = metrics.New(id, p.Name, p.Messages, n.metricsState)
	n.http = &http.Server{
		Handler:           n.metrics.Wrap(client.NewServer(n, cfg, n.log)),
		ReadHeaderTimeout: 10 * time.Second,
	}

	n.nativeLn = opts.NativeListener
	if addr := cfg.NativeAddrs[id]; n.nativeLn == nil && addr != "" {
		if n.nativeLn, err = net.Listen("tcp", addr); err != nil {
			n.closeIO()
			return nil, fmt.Errorf("node %v: native protocol: %w", id, err)
		}
	}
	if n.nativeLn != nil {
		n.native = native.NewServer(n, n.log, native.OptionsFor(cfg))
	}

	if err := n.attachRDMA(opts.RDMAFabric); err != nil {
		n.closeIO()
		return nil, fmt.Errorf("node %v: %w", id, err)
	}
	n.replica, err = p.New(n.protocolEnv())
	if err != nil {
		n.detachRDMA()
		n.closeIO()
		return nil, fmt.Errorf("node %v: %s: %w", id, p.Name, err)
	}
	return n, nil
}

// NewLogger returns a text logger to stderr at a level named as in
// paxi.Config.LogLevel.
func NewLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// Run starts the event loop and the REST API. It returns at once.
func (n *Node) Run() {
	go n.loop()
	go func() {
		if err := n.http.Serve(n.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("REST API stopped", "err", err)
		}
	}()
	if n.native != nil {
		go n.native.Serve(n.nativeLn)
	}
	n.log.Info("node started", "protocol", n.protocol.Name, "transport", n.cfg.Transport,
		"address", n.cfg.Addrs[n.id], "http", n.cfg.HTTPAddrs[n.id], "native", n.cfg.NativeAddrs[n.id])
}

// Close stops the node: the REST API, the event loop and the transport.
// Requests in flight fail with paxi.ErrStopped.
func (n *Node) Close() error {
	n.stop.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n.http.Shutdown(ctx)
		close(n.done)
		n.closeIO()
		n.detachRDMA()
	})
	return nil
}

func (n *Node) closeIO() {
	n.faults.Close()
	n.httpLn.Close()
	if n.native != nil {
		n.native.Close()
	}
	if n.nativeLn != nil {
		n.nativeLn.Close()
	}
}

// Done is closed when the event loop has exited.
func (n *Node) Done() <-chan struct{} { return n.exited }

// ID returns the node's ID.
func (n *Node) ID() paxi.ID { return n.id }

// Faults returns the node's fault injector (what /crash, /drop, /slow and
// /flaky drive).
func (n *Node) Faults() client.Faults { return n.faults }

// Do submits a command and waits for its reply. A command without a client
// id is given one ("@", this node's ID and its start time, numbered by
// request), so that every command the protocols see is named.
func (n *Node) Do(ctx context.Context, cmd paxi.Command) (rep paxi.Reply, err error) {
	c := &call{cmd: cmd, at: time.Now(), done: make(chan paxi.Reply, 1)}
	defer func() { n.metrics.Request(c.at, err) }()
	select {
	case n.calls <- c:
	case <-n.done:
		return paxi.Reply{}, paxi.ErrStopped
	case <-ctx.Done():
		return paxi.Reply{}, fmt.Errorf("%w: %w", paxi.ErrTimeout, ctx.Err())
	}
	select {
	case r := <-c.done:
		if r.Err != "" {
			return r, errors.New(r.Err)
		}
		return r, nil
	case <-n.done:
		return paxi.Reply{}, paxi.ErrStopped
	case <-ctx.Done():
		return paxi.Reply{}, fmt.Errorf("%w: %w", paxi.ErrTimeout, ctx.Err())
	}
}

// query runs f on the event loop and waits for it.
func (n *Node) query(ctx context.Context, f func()) error {
	ran := make(chan struct{})
	select {
	case n.queries <- func() { f(); close(ran) }:
	case <-n.done:
		return paxi.ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ran:
		return nil
	case <-n.done:
		return paxi.ErrStopped
	}
}

// History returns the versions of key in this node's store.
func (n *Node) History(ctx context.Context, key string) ([]store.Version, error) {
	var h []store.Version
	err := n.query(ctx, func() { h = n.store.History(key) })
	return h, err
}

// Snapshot returns a copy of this node's store.
func (n *Node) Snapshot(ctx context.Context) (store.Snapshot, error) {
	var s store.Snapshot
	err := n.query(ctx, func() { s = n.store.Snapshot() })
	return s, err
}

// Status describes a node for /status and tests.
type Status = client.Status

// Status reports what the node knows about its role. Leader and Ballot are
// filled when the protocol exposes them (methods Leader() paxi.ID and
// Ballot() paxi.Ballot).
func (n *Node) Status(ctx context.Context) (Status, error) {
	s := Status{ID: n.id, Protocol: n.protocol.Name, Faults: n.faults.Faults(),
		PID: os.Getpid(), CPUSeconds: cputime.Seconds()}
	err := n.query(ctx, func() {
		if r, ok := n.replica.(interface{ Leader() paxi.ID }); ok {
			s.Leader = r.Leader()
		}
		if r, ok := n.replica.(interface{ Ballot() paxi.Ballot }); ok {
			s.Ballot = r.Ballot().String()
		}
		s.Applied = n.store.Applied()
		s.Waiting = len(n.waiters)
	})
	return s, err
}

// loop is the event loop: the only goroutine that touches the replica.
func (n *Node) loop() {
	defer close(n.exited)
	defer n.failSubmitted()
	defer n.stopTimers()
	sweep := time.NewTicker(n.sweepEvery())
	defer sweep.Stop()
	recv := n.faults.Recv()
	for {
		for len(n.local) > 0 {
			m := n.local[0]
			n.local = n.local[1:]
			n.step(n.id, m)
		}
		select {
		case e, ok := <-recv:
			if !ok {
				return
			}
			n.metrics.Received(e.Msg)
			if r, isReply := e.Msg.(paxi.Reply); isReply {
				n.deliverReply(r)
				continue
			}
			n.step(e.From, e.Msg)
		case c := <-n.calls:
			n.nextHandle++
			h := n.nextHandle
			if c.cmd.ClientID == "" {
				c.cmd.ClientID = n.anon
				c.cmd.CommandID = h
			}
			n.waiters[h] = c
			if c.cb != nil {
				n.submitted = append(n.submitted, pending{handle: h, deadline: c.deadline})
			}
			n.step(n.id, paxi.Request{Command: c.cmd, Node: n.id, Handle: h})
		case f := <-n.timerc:
			if _, ok := n.timers[f.id]; ok {
				delete(n.timers, f.id)
				n.step(n.id, f.msg)
			}
		case q := <-n.queries:
			q()
		case <-n.rdmaReady():
			n.stepRDMA()
		case now := <-sweep.C:
			n.expireSubmitted(now)
			n.expire(now)
		case <-n.done:
			return
		}
	}
}

func (n *Node) step(from paxi.ID, m paxi.Message) {
	if err := n.replica.Step(from, m); err != nil {
		n.log.Warn("message not handled", "from", from, "msg", m, "err", err)
	}
}

// send hands m to the transport, or to the local queue when it is for this
// node (never delivered inside the Step that sent it).
func (n *Node) send(to paxi.ID, m paxi.Message) {
	if to == n.id {
		n.local = append(n.local, m)
		return
	}
	n.metrics.Sent(m)
	if err := n.faults.Send(to, m); err != nil && !errors.Is(err, transport.ErrQueueFull) {
		n.log.Debug("send failed", "to", to, "msg", m, "err", err)
	}
}

// deliverReply answers a waiting client. Replies for clients that gave up,
// or duplicates, are dropped.
func (n *Node) deliverReply(r paxi.Reply) {
	if r.Node != n.id {
		return
	}
	c, ok := n.waiters[r.Handle]
	if !ok {
		return
	}
	delete(n.waiters, r.Handle)
	if c.cb != nil {
		n.answer(c, r, nil)
		return
	}
	c.done <- r
}

// expire forgets clients that waited longer than the request timeout; they
// have been answered 503 already.
func (n *Node) expire(now time.Time) {
	limit := 2 * time.Duration(n.cfg.RequestTimeout)
	for h, c := range n.waiters {
		if c.cb == nil && now.Sub(c.at) > limit { // Submit's calls expire in expireSubmitted
			delete(n.waiters, h)
		}
	}
}

func (n *Node) stopTimers() {
	for id, t := range n.timers {
		t.Stop()
		delete(n.timers, id)
	}
}
