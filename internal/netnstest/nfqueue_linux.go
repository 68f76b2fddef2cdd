package netnstest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Netfilter queue protocol constants (linux/netfilter/nfnetlink_queue.h).
const (
	nfnlSubsysQueue   = 3
	nfqnlMsgPacket    = 0
	nfqnlMsgConfig    = 2
	nfqnlMsgVerdictB  = 3 // verdict on every packet up to an id
	nfqaPacketHdr     = 1
	nfqaVerdictHdr    = 2
	nfqaCfgCmd        = 1
	nfqaCfgParams     = 2
	nfqaCfgQueueMax   = 3
	nfqnlCfgCmdBind   = 1
	nfqnlCopyMeta     = 1
	nfAccept          = 1
	solNetlink        = 270
	netlinkNoENOBUFS  = 5
	nlaTypeMask       = 0x3fff
	queueMaxLen       = 1 << 16
	recvPollInterval  = 200 * time.Millisecond
	netlinkNetfilter  = 12
	maxPendingPackets = 1 << 17
)

// sysSetns is setns(2)'s number; package syscall does not name it.
var sysSetns = map[string]uintptr{"amd64": 308, "arm64": 268, "riscv64": 268, "386": 346, "arm": 375}

// delayQueue holds every packet of one netfilter queue for a fixed delay,
// then accepts it. Packets leave in the order they came, as on a wire.
type delayQueue struct {
	fd      int
	num     uint16
	delay   time.Duration
	pending chan packet
	stopped atomic.Bool
	done    sync.WaitGroup
	held    atomic.Int64 // packets delayed so far, for the test's log
}

type packet struct {
	id  uint32
	due time.Time
}

// openDelayQueue binds netfilter queue num in network namespace netns and
// starts delaying its packets. Bind it before any rule sends packets to
// the queue: a queue nobody listens on drops them.
func openDelayQueue(netns string, num uint16, delay time.Duration) (*delayQueue, error) {
	fd, err := socketIn(netns)
	if err != nil {
		return nil, fmt.Errorf("netfilter queue %d in %s: %w", num, netns, err)
	}
	q := &delayQueue{fd: fd, num: num, delay: delay, pending: make(chan packet, maxPendingPackets)}
	if err := q.configure(); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("netfilter queue %d in %s: %w", num, netns, err)
	}
	q.done.Add(2)
	go q.read()
	go q.release()
	return q, nil
}

// socketIn opens a netlink netfilter socket inside a named network
// namespace. The socket stays in that namespace; the OS thread that made it
// is thrown away (its goroutine exits locked), so no other goroutine ever
// runs in the namespace.
func socketIn(netns string) (int, error) {
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		nsfd, err := syscall.Open("/run/netns/"+netns, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{-1, err}
			return
		}
		nr, ok := sysSetns[runtime.GOARCH]
		if !ok {
			syscall.Close(nsfd)
			ch <- result{-1, fmt.Errorf("setns: system call number unknown on %s", runtime.GOARCH)}
			return
		}
		_, _, errno := syscall.RawSyscall(nr, uintptr(nsfd), syscall.CLONE_NEWNET, 0)
		syscall.Close(nsfd)
		if errno != 0 {
			ch <- result{-1, fmt.Errorf("setns: %w", errno)}
			return
		}
		fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, netlinkNetfilter)
		if err == nil {
			err = syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK})
		}
		ch <- result{fd, err}
	}()
	r := <-ch
	return r.fd, r.err
}

// message builds a netfilter netlink message for this queue.
func (q *delayQueue) message(msgType uint16, flags uint16, attrs ...[]byte) []byte {
	b := make([]byte, syscall.NLMSG_HDRLEN+4)
	binary.NativeEndian.PutUint16(b[4:], nfnlSubsysQueue<<8|msgType)
	binary.NativeEndian.PutUint16(b[6:], syscall.NLM_F_REQUEST|flags)
	b[16] = syscall.AF_UNSPEC // nfgenmsg: family, version 0, queue number
	binary.BigEndian.PutUint16(b[18:], q.num)
	for _, a := range attrs {
		b = append(b, a...)
	}
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	return b
}

// attr encodes a netlink attribute, padded to 4 bytes.
func attr(typ uint16, payload []byte) []byte {
	n := 4 + len(payload)
	b := make([]byte, (n+3)&^3)
	binary.NativeEndian.PutUint16(b[0:], uint16(n))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[4:], payload)
	return b
}

func (q *delayQueue) configure() error {
	syscall.SetsockoptInt(q.fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, 8<<20)
	syscall.SetsockoptInt(q.fd, solNetlink, netlinkNoENOBUFS, 1)
	tv := syscall.NsecToTimeval(recvPollInterval.Nanoseconds())
	if err := syscall.SetsockoptTimeval(q.fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	params := make([]byte, 5) // copy_range 0, copy_mode: metadata only
	params[4] = nfqnlCopyMeta
	maxLen := binary.BigEndian.AppendUint32(nil, queueMaxLen)
	for _, m := range [][]byte{
		q.message(nfqnlMsgConfig, syscall.NLM_F_ACK, attr(nfqaCfgCmd, []byte{nfqnlCfgCmdBind, 0, 0, 0})),
		q.message(nfqnlMsgConfig, syscall.NLM_F_ACK, attr(nfqaCfgParams, params), attr(nfqaCfgQueueMax, maxLen)),
	} {
		if err := syscall.Sendto(q.fd, m, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
			return err
		}
		if err := q.ack(); err != nil {
			return err
		}
	}
	return nil
}

// ack reads the kernel's answer to a request made with NLM_F_ACK.
func (q *delayQueue) ack() error {
	buf := make([]byte, 8192)
	n, _, err := syscall.Recvfrom(q.fd, buf, 0)
	if err != nil {
		return fmt.Errorf("no answer from the kernel: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.Header.Type == syscall.NLMSG_ERROR && len(m.Data) >= 4 {
			if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
				return fmt.Errorf("kernel refused the queue configuration: %w", syscall.Errno(-code))
			}
			return nil
		}
	}
	return errors.New("kernel sent no acknowledgement")
}

// read takes packets from the kernel and schedules their release.
func (q *delayQueue) read() {
	defer q.done.Done()
	defer close(q.pending)
	buf := make([]byte, 1<<16)
	for !q.stopped.Load() {
		n, _, err := syscall.Recvfrom(q.fd, buf, 0)
		if err != nil {
			continue // poll timeout (or ENOBUFS): look at stopped again
		}
		now := time.Now()
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue
		}
		for _, m := range msgs {
			if m.Header.Type != nfnlSubsysQueue<<8|nfqnlMsgPacket || len(m.Data) < 4 {
				continue
			}
			if id, ok := packetID(m.Data[4:]); ok {
				q.held.Add(1)
				q.pending <- packet{id: id, due: now.Add(q.delay)}
			}
		}
	}
}

// packetID finds the packet id in a packet message's attributes.
func packetID(attrs []byte) (uint32, bool) {
	for len(attrs) >= 4 {
		n := int(binary.NativeEndian.Uint16(attrs[0:]))
		typ := binary.NativeEndian.Uint16(attrs[2:]) & nlaTypeMask
		if n < 4 || n > len(attrs) {
			return 0, false
		}
		if typ == nfqaPacketHdr && n >= 8 {
			return binary.BigEndian.Uint32(attrs[4:]), true
		}
		step := (n + 3) &^ 3
		if step > len(attrs) {
			return 0, false
		}
		attrs = attrs[step:]
	}
	return 0, false
}

// release accepts packets as their delays pass: all packets already due at
// once, with one batch verdict up to the last of them.
func (q *delayQueue) release() {
	defer q.done.Done()
	for p := range q.pending {
		if d := time.Until(p.due); d > 0 {
			time.Sleep(d)
		}
		last := p.id
	drain:
		for {
			select {
			case next, ok := <-q.pending:
				if !ok {
					break drain
				}
				if d := time.Until(next.due); d > 0 {
					q.verdict(last)
					time.Sleep(d)
				}
				last = next.id
			default:
				break drain
			}
		}
		q.verdict(last)
	}
}

func (q *delayQueue) verdict(upTo uint32) {
	v := make([]byte, 8)
	binary.BigEndian.PutUint32(v[0:], nfAccept)
	binary.BigEndian.PutUint32(v[4:], upTo)
	m := q.message(nfqnlMsgVerdictB, 0, attr(nfqaVerdictHdr, v))
	if err := syscall.Sendto(q.fd, m, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil && !q.stopped.Load() {
		fmt.Fprintf(os.Stderr, "netnstest: verdict on queue %d: %v\n", q.num, err)
	}
}

// Close stops delaying; packets still held are dropped with the socket
// (TCP resends them), so remove the rules that feed the queue first.
func (q *delayQueue) Close() {
	q.stopped.Store(true)
	q.done.Wait()
	syscall.Close(q.fd)
}
