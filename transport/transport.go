package transport

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ailidani/paxi-style/paxi"
)

// Envelope is a message with its sender and receiver, as it comes out of
// Recv. The runtime passes From to Replica.Step.
type Envelope struct {
	From, To paxi.ID
	Msg      paxi.Message
}

// Transport moves messages between the nodes of one cluster. It is the only
// piece of the runtime that touches the network; protocols never see it
// (they call paxi.Env.Send, and the runtime forwards the outbox here).
//
// Delivery is best-effort, as in the asynchronous model consensus protocols
// are written for: a message may be lost (full queue, peer down, faults),
// but messages on one link that are delivered arrive in the order they were
// sent (except over UDP, which keeps order only in practice, on loopback).
// All methods are safe for concurrent use.
type Transport interface {
	// Send queues m for delivery to node to. It never blocks on the
	// network: each peer has a bounded queue (Options.QueueSize), and when
	// it is full the message is dropped and ErrQueueFull returned
	// (protocols retransmit). An unknown peer gives ErrUnknownPeer, and any
	// call after Close gives ErrClosed. A nil error means queued, not
	// delivered. Messages to the node itself are delivered locally.
	Send(to paxi.ID, m paxi.Message) error

	// Recv is the channel of received messages. It is closed by Close,
	// after every goroutine that could write to it has stopped.
	Recv() <-chan Envelope

	// Close stops the transport and releases its sockets. Messages still
	// queued are dropped. It is idempotent: later calls return nil.
	Close() error
}

// DefaultQueueSize is the per-peer queue length used when
// Options.QueueSize is 0.
const DefaultQueueSize = 1024

// maxRecvBuffer caps the Recv channel's buffer, which otherwise grows with
// QueueSize times the number of peers.
const maxRecvBuffer = 1 << 16

// Options are the settings shared by the constructors. The zero value is
// usable.
type Options struct {
	// QueueSize is the number of messages queued per peer before Send
	// drops new ones with ErrQueueFull. 0 means DefaultQueueSize.
	QueueSize int
	// Logger receives connection events and bad input (nil: slog.Default()).
	// Failures repeated while a peer stays down are logged once, then at
	// debug level, so a dead peer does not flood the log.
	Logger *slog.Logger
	// Listener, if set, is used by NewTCP instead of listening on the
	// node's address. Tests pass one bound to 127.0.0.1:0 so they never
	// fight over fixed ports. NewTCP takes ownership: Close closes it.
	Listener net.Listener
	// PacketConn, if set, is used by NewUDP instead of listening on the
	// node's address, as Listener is for TCP. NewUDP takes ownership.
	PacketConn net.PacketConn
}

// New returns the transport cfg.Transport names, for node self of cfg's
// cluster. chanNet is the in-process network shared by every node of a
// "chan" cluster; it is ignored by the socket transports and may be nil for
// them. opts.QueueSize defaults to cfg.QueueSize.
func New(cfg *paxi.Config, self paxi.ID, codec *Codec, chanNet *ChanNetwork, opts Options) (Transport, error) {
	if opts.QueueSize == 0 {
		opts.QueueSize = cfg.QueueSize
	}
	switch cfg.Transport {
	case paxi.TransportTCP:
		return NewTCP(self, cfg.Addrs, codec, opts)
	case paxi.TransportUDP:
		return NewUDP(self, cfg.Addrs, codec, opts)
	case paxi.TransportChan:
		if chanNet == nil {
			return nil, fmt.Errorf("transport: %q transport needs a ChanNetwork shared by the nodes of the process", cfg.Transport)
		}
		return chanNet.join(self, cfg.IDs(), opts, codec)
	}
	return nil, fmt.Errorf("transport: unknown transport %q: want %q, %q or %q", cfg.Transport, paxi.TransportTCP, paxi.TransportUDP, paxi.TransportChan)
}

// withDefaults validates opts and fills in the defaults.
func (o Options) withDefaults(kind string, self paxi.ID) (Options, error) {
	if o.QueueSize < 0 {
		return o, fmt.Errorf("transport: queue size %d: must not be negative", o.QueueSize)
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Logger = o.Logger.With("transport", kind, "node", self)
	return o, nil
}

// base is the part every transport shares: identity, the Recv channel, the
// loop-back queue for messages to self, and shutdown. Its invariant is that
// recv is closed only after every goroutine in wg has returned, and every
// goroutine that writes to recv is in wg and gives up when done is closed.
type base struct {
	self  paxi.ID
	log   *slog.Logger
	recv  chan Envelope
	done  chan struct{}
	wg    sync.WaitGroup
	shut  atomic.Bool
	selfq chan paxi.Message

	closeOnce sync.Once
}

func (b *base) init(self paxi.ID, opts Options, peers int) {
	b.self = self
	b.log = opts.Logger
	b.recv = make(chan Envelope, min(max(opts.QueueSize*peers, opts.QueueSize), maxRecvBuffer))
	b.done = make(chan struct{})
	b.selfq = make(chan paxi.Message, opts.QueueSize)
	b.wg.Go(b.loopback)
}

// Recv implements Transport.
func (b *base) Recv() <-chan Envelope { return b.recv }

// closed reports whether Close has begun.
func (b *base) closed() bool { return b.shut.Load() }

// deliver hands env to Recv, waiting for room unless the transport closes
// first. A slow consumer thus pushes back on readers (TCP flow control)
// instead of losing messages that have already crossed the network.
func (b *base) deliver(env Envelope) bool {
	select {
	case b.recv <- env:
		return true
	case <-b.done:
		return false
	}
}

// sendSelf queues a message to this node. It skips the codec and the
// socket, but keeps the bounded-queue contract of Send.
func (b *base) sendSelf(m paxi.Message) error {
	return push(b.selfq, m)
}

// loopback delivers messages sent to self, in order.
func (b *base) loopback() {
	for {
		select {
		case m := <-b.selfq:
			if !b.deliver(Envelope{From: b.self, To: b.self, Msg: m}) {
				return
			}
		case <-b.done:
			return
		}
	}
}

// shutdown runs stop once and returns its error; later calls return nil.
// It marks the transport closed, closes done,
// calls stop (which must release whatever goroutines block on: sockets),
// waits for every goroutine and closes recv.
func (b *base) shutdown(stop func() error) (err error) {
	b.closeOnce.Do(func() {
		b.shut.Store(true)
		close(b.done)
		err = stop()
		b.wg.Wait()
		close(b.recv)
	})
	return err
}

// wait sleeps for d unless the transport closes first; it reports whether
// to go on.
func (b *base) wait(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-b.done:
		return false
	}
}

// push is the non-blocking send into a bounded peer queue. A full queue
// returns the bare sentinel: under overload it happens for every message,
// so it must not allocate, and the caller knows the peer.
func push[T any](q chan T, v T) error {
	select {
	case q <- v:
		return nil
	default:
		return ErrQueueFull
	}
}
