package wpaxos

import (
	"fmt"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/paxos"
)

// The per-object Paxos messages are package paxos's messages wrapped with
// the object's key (PROTOCOLS.md §4.2), under the paper's names. Each
// wrapper names its payload field rather than embedding it, so that the
// payload's own msgpack encoding and String method are not promoted to the
// wrapper (an embedded P2a would encode an Accept without its key).

// Prepare is phase 1a for one object: its owner-to-be asks for promises.
type Prepare struct {
	Key string    `msgpack:"k"`
	P1a paxos.P1a `msgpack:"m"`
}

func (m Prepare) String() string { return fmt.Sprintf("Prepare{%s %v}", m.Key, m.P1a) }

// Promise is phase 1b for one object: a promise (or a rejection, carrying
// the higher ballot) with the acceptor's log of that object.
type Promise struct {
	Key string    `msgpack:"k"`
	P1b paxos.P1b `msgpack:"m"`
}

func (m Promise) String() string { return fmt.Sprintf("Promise{%s %v}", m.Key, m.P1b) }

// Accept is phase 2a for one object: the owner asks to accept commands in a
// slot of the object's log.
type Accept struct {
	Key string    `msgpack:"k"`
	P2a paxos.P2a `msgpack:"m"`
}

func (m Accept) String() string { return fmt.Sprintf("Accept{%s %v}", m.Key, m.P2a) }

// Accepted is phase 2b for one object.
type Accepted struct {
	Key string    `msgpack:"k"`
	P2b paxos.P2b `msgpack:"m"`
}

func (m Accepted) String() string { return fmt.Sprintf("Accepted{%s %v}", m.Key, m.P2b) }

// Commit tells a node that a slot of an object's log is chosen.
type Commit struct {
	Key string   `msgpack:"k"`
	P3  paxos.P3 `msgpack:"m"`
}

func (m Commit) String() string { return fmt.Sprintf("Commit{%s %v}", m.Key, m.P3) }

// Heartbeat is an object owner's paxos.Heartbeat: how far the object's log
// goes and which prefix is committed, so that a node that lost a Commit
// catches up. Not in the paper (it leaves message loss to the transport).
// Owners send it only while the object changes, and then at growing
// intervals (see keyEnv.Broadcast), so idle objects cost almost nothing.
type Heartbeat struct {
	Key       string          `msgpack:"k"`
	Heartbeat paxos.Heartbeat `msgpack:"m"`
}

func (m Heartbeat) String() string { return fmt.Sprintf("Heartbeat{%s %v}", m.Key, m.Heartbeat) }

// CatchUp asks an object's owner for committed slots the sender lacks.
type CatchUp struct {
	Key     string        `msgpack:"k"`
	CatchUp paxos.CatchUp `msgpack:"m"`
}

func (m CatchUp) String() string { return fmt.Sprintf("CatchUp{%s %v}", m.Key, m.CatchUp) }

// Forward carries a client request to the node the sender believes owns
// its object. Ballot is the sender's ballot for the object, owned by the
// receiver; Hops counts how many nodes the request has passed through
// (PROTOCOLS.md §4.5 pitfall 5). A node only re-forwards to the owner of a
// higher ballot than its own was, so chains end, and the hop limit is a
// second guard.
type Forward struct {
	Ballot  paxi.Ballot  `msgpack:"b"`
	Hops    int          `msgpack:"h"`
	Request paxi.Request `msgpack:"r"`
}

func (m Forward) String() string {
	return fmt.Sprintf("Forward{b=%v hops=%d %v}", m.Ballot, m.Hops, m.Request)
}

// LeaderChange is the migration policy's hint from an object's owner From
// to node To: take the object over (run phase 1 for it). To acts only if
// its ballot for the object is still Ballot, so a stale hint is ignored.
type LeaderChange struct {
	Key    string      `msgpack:"k"`
	From   paxi.ID     `msgpack:"f"`
	To     paxi.ID     `msgpack:"t"`
	Ballot paxi.Ballot `msgpack:"b"`
}

func (m LeaderChange) String() string {
	return fmt.Sprintf("LeaderChange{%s %v->%v b=%v}", m.Key, m.From, m.To, m.Ballot)
}

// tick is the node's periodic timer: it fires the objects' timers and
// looks for requests that have waited too long. Local, never sent.
type tick struct{}

func (tick) String() string { return "tick" }

// Messages lists the message types WPaxos sends between nodes, in wire
// order.
var Messages = []paxi.Message{Forward{}, Prepare{}, Promise{}, Accept{}, Accepted{}, Commit{}, Heartbeat{}, CatchUp{}, LeaderChange{}}
