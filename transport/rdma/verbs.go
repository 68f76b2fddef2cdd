package rdma

import (
	"errors"
	"fmt"

	"github.com/ailidani/paxi-style/paxi"
)

// Errors returned by the verbs for local misuse. Remote failures are not
// errors of a call: they arrive later as a WC with a Status.
var (
	// ErrNoRDMA is returned by From when the driver gives the protocol no
	// RDMA device.
	ErrNoRDMA = errors.New("rdma: the environment has no RDMA device")
	// ErrQPState is returned for a verb the queue pair's state does not
	// allow (posting before Connect completed, Connect without Reset).
	ErrQPState = errors.New("rdma: queue pair in the wrong state")
	// ErrSendQueueFull is returned by Post when the work requests would
	// overflow the send queue: unsignaled requests hold their slots until a
	// later signaled one completes.
	ErrSendQueueFull = errors.New("rdma: send queue full")
	// ErrBadWR is returned by Post for a malformed work request (an atomic
	// whose Local is not 8 bytes, an inline payload over the limit, an
	// unknown opcode).
	ErrBadWR = errors.New("rdma: bad work request")
	// ErrBadOptions is wrapped by every invalid Options or Profile error.
	ErrBadOptions = errors.New("rdma: bad options")
	// ErrUnknownPeer is returned by Device.QP for a node outside the
	// fabric.
	ErrUnknownPeer = errors.New("rdma: unknown peer")
	// ErrDeviceGone is returned by every verb of a device whose host
	// crashed: its memory and queue pairs are gone.
	ErrDeviceGone = errors.New("rdma: device gone (host crashed)")
)

// Env is a paxi.Env with an RDMA device: the optional capability that
// RDMA protocols (APUS, Mu) need. Drivers that emulate RDMA (the simulator
// with an RDMA fabric) hand replicas an Env that implements it.
type Env interface {
	paxi.Env
	// RDMA returns this node's device. It is the same device for the life
	// of the replica; a replica recreated after a host crash gets a new
	// one (the old memory is gone).
	RDMA() Device
}

// From returns env's RDMA device, or an error wrapping ErrNoRDMA that names
// the node, for a protocol's Factory to fail fast with.
func From(env paxi.Env) (Device, error) {
	if e, ok := env.(Env); ok {
		if d := e.RDMA(); d != nil {
			return d, nil
		}
	}
	return nil, fmt.Errorf("%w on node %v: run the protocol with an RDMA transport (in the simulator: Network.RDMA, set automatically for Protocol.RDMA)", ErrNoRDMA, env.ID())
}

// Device is one node's emulated NIC: it registers memory and owns the
// node's ends of queue pairs. All its methods are called from the replica's
// Step (they never block); everything they cause later arrives in Step as a
// message: WC, Changed or Event.
type Device interface {
	// ID is the node the device belongs to.
	ID() paxi.ID
	// Register registers size bytes of zeroed memory with access a. It is
	// usable at once. Keys are assigned in registration order (the first
	// region has RKey FirstRKey, the next FirstRKey+1, ...), so replicas that
	// register the same regions in the same order know each other's keys
	// without exchanging them, as a real deployment does at connection time.
	Register(size int, a Access) (MR, error)
	// QP returns this node's end of queue pair number ch with peer,
	// creating it in state Reset the first time. Each (peer, ch) is one
	// reliable connection; both ends must Connect. Several channels per
	// peer give a protocol separate connections with separate rights (Mu's
	// replication and leader-election planes). peer may be this node
	// (loopback).
	QP(peer paxi.ID, ch int) (QP, error)
	// Profile is the latency model the device runs with.
	Profile() Profile
}

// FirstRKey is the key of a device's first registered region.
const FirstRKey uint32 = 1

// MR is a registered memory region. Its owner reads and writes it with the
// CPU through these methods, never through a slice, so that backends that
// share the memory with other processes can keep their locking; remote
// nodes reach it with one-sided verbs naming RKey and an offset.
//
// Words are little-endian. Local CPU access happens at once and does not
// wake the region's watches (they report remote changes).
type MR interface {
	// RKey is the key remote work requests name.
	RKey() uint32
	// Len is the size in bytes.
	Len() int
	// Access is the region's access rights in force.
	Access() Access
	// Read copies len(p) bytes at off into p. Out of range panics.
	Read(off int, p []byte)
	// Write copies p into the region at off. Out of range panics.
	Write(off int, p []byte)
	// Load64 returns the 8-byte word at off (8-byte aligned: single-copy
	// atomic with respect to remote placement).
	Load64(off int) uint64
	// Store64 sets the word at off.
	Store64(off int, v uint64)
	// Watch asks for a Changed message whenever a remote operation changes
	// bytes in [off, off+n), after the profile's PollDetect delay: the
	// model of a thread spinning on that range, without the events of
	// spinning. Changes that land while a Changed is pending are covered by
	// it (the handler reads memory when it runs). It returns the watch's id.
	Watch(off, n int) int
	// Unwatch stops a watch. Unknown ids are ignored.
	Unwatch(id int)
	// Reregister changes the region's rights: the slowest way to revoke,
	// costing the profile's RegisterBase + RegisterPerByte*Len. The change
	// takes effect at one instant, announced by Event{Kind: Reregistered}.
	// The key stays the same.
	Reregister(a Access) error
}

// QP is one node's end of a reliable-connected queue pair. The same end is
// requester for the work requests posted on it and responder for its
// peer's: its remote access rights (SetRemoteAccess) say what the peer may
// do to this node's memory through it.
type QP interface {
	// Peer is the node at the other end; Channel the connection's number.
	Peer() paxi.ID
	Channel() int
	// State is the state now.
	State() QPState
	// RemoteAccess is the responder-side rights in force now.
	RemoteAccess() Access
	// Post posts work requests, in order. It never blocks and fails only
	// for local misuse (ErrQPState, ErrSendQueueFull, ErrBadWR), in which
	// case none of wrs is posted. On a queue pair in Err every request is
	// accepted and completes with FlushErr.
	Post(wrs ...WR) error
	// PostRecv posts a receive buffer for a SEND or WRITE_WITH_IMM from the
	// peer; its completion (Recv or RecvImm) carries id. Buffers are
	// consumed in the order posted; buf is written at placement.
	PostRecv(id uint64, buf []byte) error
	// SetRemoteAccess changes the responder-side rights (verbs
	// ibv_modify_qp with qp_access_flags: Mu's permission switch). It takes
	// effect at one instant, after the profile's AccessChange cost,
	// announced by Event{Kind: AccessChanged}: operations placed before are
	// checked against the old rights, operations placed after against the
	// new. Only in RTS.
	SetRemoteAccess(a Access) error
	// Reset moves the queue pair to Reset from any state at once. Work
	// requests still outstanding are discarded without completions (verbs
	// semantics), and the peer's requests are no longer served.
	Reset() error
	// Connect takes a queue pair in Reset through Init, RTR and RTS with
	// remote rights a, costing the profile's Connect time; Event{Kind:
	// Connected} announces RTS. The peer's end must be connected too (to
	// this node's current incarnation) for operations to get through.
	Connect(a Access) error
	// Outstanding is the number of send-queue slots in use.
	Outstanding() int
}

// WR is a work request.
type WR struct {
	// ID is echoed in the completion.
	ID uint64
	Op Opcode
	// Local is the payload of Write, WriteImm and Send; the destination of
	// Read (len(Local) bytes are read); for CAS and FAA, nil or 8 bytes
	// that receive the old word (little-endian; WC.Value has it too). A
	// non-inline payload is read when the NIC fetches it, after the post
	// overhead: changing it before the completion is a bug the emulator
	// shows.
	Local []byte
	// RemoteAddr is the offset in the remote region named by RKey.
	RemoteAddr uint64
	RKey       uint32
	// Compare and Swap are CAS's operands; Add is FAA's addend.
	Compare, Swap, Add uint64
	// Imm is WriteImm's immediate, delivered in the peer's RecvImm.
	Imm uint32
	// Signaled asks for a completion on success (errors always complete).
	Signaled bool
	// Inline captures the payload at post time (at most
	// Profile.InlineMax bytes) and saves the NIC's DMA read.
	Inline bool
	// Fence delays the request until every earlier READ and atomic on the
	// queue pair has completed.
	Fence bool
}

// String prints the request on one line.
func (w WR) String() string {
	s := fmt.Sprintf("WR{#%d %v %dB rkey=%d@%d", w.ID, w.Op, len(w.Local), w.RKey, w.RemoteAddr)
	switch w.Op {
	case CAS:
		s += fmt.Sprintf(" cmp=%d swap=%d", w.Compare, w.Swap)
	case FAA:
		s += fmt.Sprintf(" add=%d", w.Add)
	case WriteImm:
		s += fmt.Sprintf(" imm=%d", w.Imm)
	}
	if w.Signaled {
		s += " signaled"
	}
	if w.Inline {
		s += " inline"
	}
	if w.Fence {
		s += " fence"
	}
	return s + "}"
}
