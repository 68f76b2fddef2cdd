package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/ailidani/paxi-style/paxi"
)

// MaxDatagramSize is the largest datagram the UDP transport sends, header
// included: the largest UDP payload over IPv4 (65535 bytes minus the 8-byte
// UDP and 20-byte IP headers). Send rejects a larger message with
// ErrMessageTooLarge; UDP has no fragmentation of its own, and protocols
// that need big messages should use TCP.
const MaxDatagramSize = 65507

// A datagram is a version byte, the sender's ID (4 bytes, big-endian), and
// the Codec output.
const (
	udpVersion    = 1
	udpHeaderSize = 5
)

// socketBuffer is the UDP socket buffer size asked of the kernel.
const socketBuffer = 4 << 20

// UDP is the datagram transport: one datagram per message, no connections,
// no retransmission. It suits protocols that tolerate loss and want to see
// its effect. Messages may be lost even on loopback when a receiver falls
// behind (its socket buffer overflows); order on one link is kept in
// practice on loopback but not guaranteed.
//
// Send encodes the message itself (so it can report ErrMessageTooLarge at
// once) and queues the datagram; a writer goroutine per peer sends it. One
// reader goroutine decodes incoming datagrams; a bad one is logged (at most
// once a second) and dropped.
type UDP struct {
	base
	codec *Codec
	conn  net.PacketConn
	peers map[paxi.ID]*udpPeer // immutable after NewUDP
}

type udpPeer struct {
	id    paxi.ID
	addr  net.Addr
	queue chan []byte
}

// NewUDP starts the UDP transport of node self. addrs maps every node of
// the cluster, self included, to its host:port. It binds its socket at once
// and resolves every peer address, so configuration errors surface here.
func NewUDP(self paxi.ID, addrs map[paxi.ID]string, codec *Codec, opts Options) (*UDP, error) {
	if codec == nil {
		return nil, errors.New("transport: NewUDP: nil codec")
	}
	addr, ok := addrs[self]
	if !ok {
		return nil, fmt.Errorf("transport: NewUDP: node %v has no address", self)
	}
	opts, err := opts.withDefaults("udp", self)
	if err != nil {
		return nil, err
	}
	u := &UDP{codec: codec, peers: make(map[paxi.ID]*udpPeer, len(addrs))}
	for id, a := range addrs {
		if id == self {
			continue
		}
		ua, err := net.ResolveUDPAddr("udp", a)
		if err != nil {
			return nil, fmt.Errorf("transport: node %v: address of %v: %w", self, id, err)
		}
		u.peers[id] = &udpPeer{id: id, addr: ua, queue: make(chan []byte, opts.QueueSize)}
	}
	u.conn = opts.PacketConn
	if u.conn == nil {
		if u.conn, err = net.ListenPacket("udp", addr); err != nil {
			return nil, fmt.Errorf("transport: node %v: listen: %w", self, err)
		}
	}
	if uc, ok := u.conn.(*net.UDPConn); ok {
		// Best effort (the kernel caps it, at net.core.rmem_max on Linux):
		// a bigger receive buffer absorbs bursts that would be lost.
		_ = uc.SetReadBuffer(socketBuffer)
		_ = uc.SetWriteBuffer(socketBuffer)
	}
	u.init(self, opts, len(addrs))
	for _, p := range u.peers {
		u.wg.Go(func() { u.writeLoop(p) })
	}
	u.wg.Go(u.readLoop)
	return u, nil
}

// Addr is the address the transport's socket is bound to.
func (u *UDP) Addr() net.Addr { return u.conn.LocalAddr() }

// Send implements Transport. Besides the common errors it returns
// ErrMessageTooLarge for a message whose datagram would exceed
// MaxDatagramSize, and encoding errors.
func (u *UDP) Send(to paxi.ID, m paxi.Message) error {
	if u.closed() {
		return ErrClosed
	}
	if !u.codec.Registered(m) {
		return fmt.Errorf("%w: %T", ErrUnregistered, m)
	}
	if to == u.self {
		return u.sendSelf(m)
	}
	p, ok := u.peers[to]
	if !ok {
		return fmt.Errorf("%w: %v", ErrUnknownPeer, to)
	}
	var hdr [udpHeaderSize]byte
	hdr[0] = udpVersion
	binary.BigEndian.PutUint32(hdr[1:], uint32(u.self))
	e := encoderPool.Get().(*encoder)
	b, err := e.encodeCopy(u.codec, hdr[:], m)
	encoderPool.Put(e)
	if err != nil {
		return err
	}
	if len(b) > MaxDatagramSize {
		return fmt.Errorf("%w: %T to %v is %d bytes as a datagram, the UDP limit is %d (use the tcp transport for large messages)",
			ErrMessageTooLarge, m, to, len(b), MaxDatagramSize)
	}
	return push(p.queue, b)
}

// Close implements Transport.
func (u *UDP) Close() error {
	return u.shutdown(func() error {
		err := u.conn.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
		return err
	})
}

func (u *UDP) writeLoop(p *udpPeer) {
	failures := 0
	for {
		select {
		case b := <-p.queue:
			if _, err := u.conn.WriteTo(b, p.addr); err != nil {
				if u.closed() {
					return
				}
				failures++
				if failures == 1 {
					u.log.Info("send failed", "peer", p.id, "addr", p.addr, "err", err)
				} else {
					u.log.Debug("send failed", "peer", p.id, "addr", p.addr, "err", err, "failures", failures)
				}
				continue
			}
			failures = 0
		case <-u.done:
			return
		}
	}
}

func (u *UDP) readLoop() {
	buf := make([]byte, 1<<16)
	dec := newDecoder()
	bad := logLimiter{log: u.log, every: time.Second}
	backoff := backoffMin
	for {
		n, addr, err := u.conn.ReadFrom(buf)
		if err != nil {
			if u.closed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Not expected on an unconnected socket; do not spin on it.
			bad.warn("read failed", "err", err)
			if !u.wait(backoff) {
				return
			}
			backoff = min(2*backoff, backoffMax)
			continue
		}
		backoff = backoffMin
		from, m, err := u.parse(dec, buf[:n])
		if err != nil {
			bad.warn("bad datagram; dropped", "remote", addr, "bytes", n, "err", err)
			continue
		}
		if !u.deliver(Envelope{From: from, To: u.self, Msg: m}) {
			return
		}
	}
}

func (u *UDP) parse(dec *decoder, b []byte) (paxi.ID, paxi.Message, error) {
	if len(b) < udpHeaderSize || b[0] != udpVersion {
		return 0, nil, fmt.Errorf("%w: not a paxi datagram (want version %d)", ErrBadMessage, udpVersion)
	}
	from := paxi.ID(binary.BigEndian.Uint32(b[1:udpHeaderSize]))
	if _, ok := u.peers[from]; !ok {
		return 0, nil, fmt.Errorf("%w: datagram from node %v, which is not a peer", ErrBadMessage, from)
	}
	m, err := dec.decode(u.codec, b[udpHeaderSize:])
	return from, m, err
}

// logLimiter logs at most one warning per period and counts the rest, so a
// flood of garbage cannot flood the log. It is used by one goroutine.
type logLimiter struct {
	log        *slog.Logger
	every      time.Duration
	last       time.Time
	suppressed int
}

func (l *logLimiter) warn(msg string, args ...any) {
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		return
	}
	if l.suppressed > 0 {
		args = append(args, "suppressed", l.suppressed)
	}
	l.log.Warn(msg, args...)
	l.last, l.suppressed = now, 0
}
