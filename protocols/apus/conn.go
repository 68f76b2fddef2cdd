package apus

import (
	"encoding/binary"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// The two planes, as in DARE: each pair of nodes has two reliable
// connections.
const (
	// chLog is the log plane. A follower's end grants RemoteRead and
	// RemoteWrite to the one leader it follows, and is reset (revoked) the
	// moment it adopts a newer term; every other end of it is reset or
	// connected with no rights. Only the leader posts on it.
	chLog = 0
	// chCtl is the control plane: always connected, always writable.
	// Heartbeats, votes, grants and acks go over it into control regions,
	// each into a record only its writer writes.
	chCtl = 1
)

const (
	ctlRights = rdma.RemoteRead | rdma.RemoteWrite
	logGrant  = rdma.RemoteRead | rdma.RemoteWrite
)

// signalEvery bounds the unsignaled work requests on a queue pair: once
// this many are outstanding the next is signaled, so that its completion
// frees their send-queue slots (selective signaling).
const signalEvery = 32

// Work-request ids: the kind in the low byte, the queue pair's epoch (its
// resets) above, so that completions of a reset queue pair are ignored.
const (
	wrSignal = 1 // a signaled write: frees slots; the log plane streams on
	wrRead   = 2 // the log adjustment READ
)

func wrID(epoch uint64, kind uint64) uint64 { return epoch<<8 | kind }

// conn is this node's ends of the two connections with one peer.
type conn struct {
	peer     paxi.ID
	log, ctl rdma.QP
	// epochs count the resets of each end.
	logEpoch, ctlEpoch uint64
	// staleHB is the last heartbeat word of a stale leader this node
	// answered.
	staleHB uint64
}

// post posts wrs on q if it is in RTS and has room; otherwise it drops them
// and reports false (callers re-send from state: heartbeats on the next
// tick, acks and grants on the next check, log entries on the next
// completion or reconnection). The last request is signaled when the
// queue pair gets crowded.
func (r *Replica) post(q rdma.QP, epoch uint64, wrs []rdma.WR) bool {
	if len(wrs) == 0 {
		return true
	}
	if q.State() != rdma.RTS || q.Outstanding()+len(wrs) > r.dev.Profile().SendQueue {
		return false
	}
	if q.Outstanding()+len(wrs) >= signalEvery {
		last := &wrs[len(wrs)-1]
		if !last.Signaled {
			last.Signaled, last.ID = true, wrID(epoch, wrSignal)
		}
	}
	if err := q.Post(wrs...); err != nil {
		panic("apus: post on a queue pair in RTS with room: " + err.Error())
	}
	return true
}

// word is the 8 little-endian bytes of w.
func word(w uint64) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, w)
	return b
}

// room is how many more work requests q takes.
func (r *Replica) room(q rdma.QP) int { return r.dev.Profile().SendQueue - q.Outstanding() }

// write is a WRITE of b at off of the peer's region rkey, inline if small.
func (r *Replica) write(rkey uint32, off int, b []byte) rdma.WR {
	return rdma.WR{Op: rdma.Write, Local: b, RemoteAddr: uint64(off), RKey: rkey, Inline: len(b) <= r.dev.Profile().InlineMax}
}
