package rdma

import (
	"fmt"

	"github.com/ailidani/paxi-style/paxi"
)

// The messages a device delivers to its replica's Step, with from = the
// replica's own ID, on the replica's goroutine, like timers. A paused
// replica gets them when it resumes; a crashed host's are lost. A protocol
// that uses a device must handle all three types.

// WC is a work completion: one per signaled work request, per failed or
// flushed one, and per consumed receive buffer (Op Recv or RecvImm).
type WC struct {
	// ID is the work request's ID (the receive buffer's, for Recv/RecvImm).
	ID uint64
	// Peer and Channel name the queue pair.
	Peer    paxi.ID
	Channel int
	Op      Opcode
	Status  Status
	// Len is the number of bytes written, read, or received.
	Len int
	// Imm is the immediate of a RecvImm.
	Imm uint32
	// Value is the word before a CAS or FAA.
	Value uint64
}

// String prints the completion deterministically.
func (w WC) String() string {
	s := fmt.Sprintf("WC{%v/%d #%d %v %v %dB", w.Peer, w.Channel, w.ID, w.Op, w.Status, w.Len)
	switch w.Op {
	case CAS, FAA:
		s += fmt.Sprintf(" old=%d", w.Value)
	case RecvImm:
		s += fmt.Sprintf(" imm=%d", w.Imm)
	}
	return s + "}"
}

// Changed reports that a remote operation changed bytes in a watched range
// of a local region (MR.Watch). It carries no data: read the region.
type Changed struct {
	RKey  uint32
	Watch int
	// Off and Len are the watched range.
	Off, Len int
}

// String prints the notification.
func (c Changed) String() string {
	return fmt.Sprintf("Changed{rkey=%d watch=%d [%d,%d)}", c.RKey, c.Watch, c.Off, c.Off+c.Len)
}

// EventKind is what an Event announces.
type EventKind uint8

// The asynchronous events.
const (
	// Connected: Connect finished; the queue pair is in RTS.
	Connected EventKind = iota + 1
	// AccessChanged: a SetRemoteAccess took effect.
	AccessChanged
	// Reregistered: an MR.Reregister took effect (RKey names the region).
	Reregistered
	// QPFatal: the peer's operation violated this end's rights and the
	// queue pair went to Err (verbs IBV_EVENT_QP_ACCESS_ERR; only when
	// Options.KeepResponderOnAccessErr is off, the default).
	QPFatal
)

var eventNames = [...]string{Connected: "Connected", AccessChanged: "AccessChanged", Reregistered: "Reregistered", QPFatal: "QPFatal"}

// String returns the kind's name.
func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is an asynchronous event of a queue pair or region: the end of a
// modelled slow operation, or an error at the responder side.
type Event struct {
	Kind EventKind
	// Peer and Channel name the queue pair (zero for Reregistered).
	Peer    paxi.ID
	Channel int
	// Access is the rights now in force (queue pair's or region's).
	Access Access
	// RKey names the region of a Reregistered event.
	RKey uint32
}

// String prints the event.
func (e Event) String() string {
	if e.Kind == Reregistered {
		return fmt.Sprintf("Event{%v rkey=%d access=%v}", e.Kind, e.RKey, e.Access)
	}
	return fmt.Sprintf("Event{%v %v/%d access=%v}", e.Kind, e.Peer, e.Channel, e.Access)
}
