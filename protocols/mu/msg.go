package mu

import (
	"fmt"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/store"
)

// The two-sided messages. Everything on the critical path is one-sided
// RDMA; these carry client requests to the leader (paxi.Request, as every
// protocol does) and state transfer for a replica that fell more than a
// log's length behind, which the recycled log can no longer serve.

// SnapshotRequest asks a replica for its state machine: a new leader
// behind the most advanced replica of its quorum, whose log has recycled
// the entries the leader lacks, sends it.
type SnapshotRequest struct {
	// Index is the asker's next index to apply: the snapshot is useful only
	// above it.
	Index uint64 `msgpack:"i"`
}

func (m SnapshotRequest) String() string { return fmt.Sprintf("SnapshotRequest{index=%d}", m.Index) }

// Snapshot is a replica's store with every index below Index applied: the
// answer to a SnapshotRequest, or a leader's push to a follower too far
// behind for its log.
type Snapshot struct {
	Index uint64         `msgpack:"i"`
	Store store.Snapshot `msgpack:"s"`
}

func (m Snapshot) String() string {
	return fmt.Sprintf("Snapshot{index=%d keys=%d}", m.Index, len(m.Store.Keys))
}

// Messages lists the message types Mu sends between nodes, in wire order.
var Messages = []paxi.Message{SnapshotRequest{}, Snapshot{}}

// scan is the background plane's periodic timer. Local, never sent.
type scan struct{}

func (scan) String() string { return "scan" }
