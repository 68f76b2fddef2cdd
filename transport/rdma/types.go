package rdma

import (
	"fmt"
	"strings"
)

// Access is a set of access rights, on a memory region (what its key
// allows) or on the responder end of a queue pair (what the peer may do
// through it). A remote operation must be allowed by both.
type Access uint8

// The access rights of verbs (IBV_ACCESS_*).
const (
	// LocalWrite lets the local NIC write the region (READ results, RECV
	// buffers). Local buffers here are plain slices, so it is recorded but
	// not enforced; it is kept so that registrations read like verbs code.
	LocalWrite Access = 1 << iota
	// RemoteRead allows READ.
	RemoteRead
	// RemoteWrite allows WRITE and WRITE_WITH_IMM.
	RemoteWrite
	// RemoteAtomic allows CAS and FAA.
	RemoteAtomic

	// NoAccess allows nothing remotely: a revoked queue pair.
	NoAccess Access = 0
	// RemoteAll allows every remote operation.
	RemoteAll = RemoteRead | RemoteWrite | RemoteAtomic
)

// Has reports whether every right in b is in a.
func (a Access) Has(b Access) bool { return a&b == b }

// String prints the rights as "RW" style flags: l (local write), r, w, a.
func (a Access) String() string {
	if a == 0 {
		return "-"
	}
	var b strings.Builder
	for i, c := range "lrwa" {
		if a&(1<<i) != 0 {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// Opcode is the kind of a work request, or of a work completion.
type Opcode uint8

// The operations. Recv and RecvImm appear only in completions, at the
// responder, for a consumed receive buffer.
const (
	Write    Opcode = iota + 1 // one-sided write of Local into remote memory
	WriteImm                   // Write that also consumes a posted RECV and raises a RecvImm completion with Imm
	Read                       // one-sided read of len(Local) bytes of remote memory into Local
	CAS                        // 8-byte compare-and-swap: if word == Compare then word = Swap; returns the old word
	FAA                        // 8-byte fetch-and-add: word += Add; returns the old word
	Send                       // two-sided: Local lands in the peer's next posted RECV buffer
	Recv                       // completion of a RECV consumed by a Send
	RecvImm                    // completion of a RECV consumed by a WriteImm
)

var opNames = [...]string{Write: "WRITE", WriteImm: "WRITE_IMM", Read: "READ", CAS: "CAS", FAA: "FAA", Send: "SEND", Recv: "RECV", RecvImm: "RECV_IMM"}

// String returns the verbs name of the operation.
func (o Opcode) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return fmt.Sprintf("Opcode(%d)", uint8(o))
}

// atomic reports whether o is CAS or FAA.
func (o Opcode) atomic() bool { return o == CAS || o == FAA }

// needs returns the remote right an operation needs (0: none, two-sided).
func (o Opcode) needs() Access {
	switch o {
	case Write, WriteImm:
		return RemoteWrite
	case Read:
		return RemoteRead
	case CAS, FAA:
		return RemoteAtomic
	}
	return 0
}

// Status is the outcome of a work request, as its completion reports it.
type Status uint8

// The statuses modelled (PROTOCOLS.md §10.2 item 6).
const (
	// Success: the operation was placed at the responder (for WRITE: the
	// data is in the responder's memory) and acknowledged.
	Success Status = iota
	// RemoteAccessErr: a wrong rkey, a range outside the region, or rights
	// missing on the region or on the responder's queue pair, checked at
	// the placement instant. Nothing was placed.
	RemoteAccessErr
	// RemoteInvalidReq: a request the responder cannot execute: a
	// misaligned atomic, or a SEND larger than the receive buffer.
	RemoteInvalidReq
	// RetryExceeded: the responder did not answer within the RC transport
	// timeout (host down or unreachable, or its queue pair not connected
	// to this one). Nothing was placed.
	RetryExceeded
	// RNRRetryExceeded: a SEND or WRITE_WITH_IMM found no posted RECV at
	// the responder for the receiver-not-ready timeout.
	RNRRetryExceeded
	// FlushErr: the queue pair was already in error when this request's
	// turn came; it was not executed.
	FlushErr
)

var statusNames = [...]string{Success: "ok", RemoteAccessErr: "REM_ACCESS_ERR", RemoteInvalidReq: "REM_INV_REQ_ERR",
	RetryExceeded: "RETRY_EXC_ERR", RNRRetryExceeded: "RNR_RETRY_EXC_ERR", FlushErr: "WR_FLUSH_ERR"}

// String returns the verbs-style name of the status ("ok" for Success).
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// QPState is the state of one end of a reliable-connected queue pair.
type QPState uint8

// The queue-pair states of verbs. Connect takes a queue pair from Reset
// through Init and RTR to RTS as one modelled step; it is in Init while
// that takes.
const (
	Reset QPState = iota // created or reset: neither sends nor receives
	Init                 // being connected
	RTR                  // ready to receive (not observed separately; see Connect)
	RTS                  // ready to send and receive
	Err                  // an operation failed: everything posted is flushed until Reset
)

var stateNames = [...]string{Reset: "RESET", Init: "INIT", RTR: "RTR", RTS: "RTS", Err: "ERR"}

// String returns the verbs name of the state.
func (s QPState) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("QPState(%d)", uint8(s))
}

// Placement is how the bytes of a WRITE larger than one chunk land in the
// responder's memory (PROTOCOLS.md §10.2 item 5). Aligned 8-byte words are
// always single-copy atomic: chunks are aligned to ChunkSize.
type Placement uint8

// The placement modes.
const (
	// InorderChunks places ChunkSize-aligned chunks in increasing address
	// order, one every ChunkSize/bandwidth: what common NICs do, and what
	// Mu's canary byte and APUS's end pointer rely on. The default.
	InorderChunks Placement = iota
	// RandomChunks places the chunks in a random order spread over
	// Options.TearWindow: adversarial, to catch protocols that trust a
	// write to land whole or in order.
	RandomChunks
	// Whole places a write at one instant: convenient, and hides bugs.
	Whole
)

// ChunkSize is the placement granularity of writes, in bytes (a cache line).
const ChunkSize = 64

var placementNames = [...]string{InorderChunks: "inorder-chunks", RandomChunks: "random-chunks", Whole: "whole"}

// String returns the mode's name as flags and options spell it.
func (p Placement) String() string {
	if int(p) < len(placementNames) {
		return placementNames[p]
	}
	return fmt.Sprintf("Placement(%d)", uint8(p))
}

// ParsePlacement parses a mode's name.
func ParsePlacement(s string) (Placement, error) {
	for i, n := range placementNames {
		if n == s {
			return Placement(i), nil
		}
	}
	return 0, fmt.Errorf("%w: placement %q: want one of %v", ErrBadOptions, s, placementNames)
}
