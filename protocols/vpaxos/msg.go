package vpaxos

import (
	"fmt"
	"strings"

	"github.com/ailidani/paxi-style/paxi"
)

// Configuration is the set of replicas of one ballot of one object: the
// primary (the ballot's leader) first, then its backups. In Vertical Paxos
// every ballot has its own configuration; with primary-backup quorums a
// write must reach every member and a read of the state needs any one.
type Configuration []paxi.ID

// Primary returns the configuration's primary (0 for an empty one).
func (c Configuration) Primary() paxi.ID {
	if len(c) == 0 {
		return 0
	}
	return c[0]
}

// Has reports whether id is a member.
func (c Configuration) Has(id paxi.ID) bool {
	for _, m := range c {
		if m == id {
			return true
		}
	}
	return false
}

// String prints the members, primary first: "[1.1 1.2 1.3]".
func (c Configuration) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, id := range c {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(id.String())
	}
	b.WriteByte(']')
	return b.String()
}

// Entry is one slot of an object's log as it travels in P1b and Transfer:
// the command, the ballot it was voted (or copied) at, and whether the
// sender knows it committed.
type Entry struct {
	Slot      int64        `msgpack:"s"`
	Ballot    paxi.Ballot  `msgpack:"b"`
	Command   paxi.Command `msgpack:"c"`
	Committed bool         `msgpack:"k"`
}

func (e Entry) String() string {
	mark := ""
	if e.Committed {
		mark = "*"
	}
	return fmt.Sprintf("%d:%v%s%v", e.Slot, e.Ballot, mark, e.Command)
}

func entriesString(es []Entry) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range es {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e.String())
	}
	b.WriteByte(']')
	return b.String()
}

// The kinds of MasterOp.
const (
	// OpNewBallot asks the master for a new ballot of an object led by
	// Leader with configuration Config, if the last ballot it issued for
	// the object is still Ballot (compare-and-set, so that two nodes
	// reconfiguring at once do not abandon each other's ballots forever).
	OpNewBallot uint8 = iota + 1
	// OpComplete tells the master that the leader of Ballot has
	// transferred the previous configuration's state to its own: the
	// master activates Ballot if it is still the last one issued.
	OpComplete
	// OpQuery reads the master's record of the object.
	OpQuery
)

func opName(k uint8) string {
	switch k {
	case OpNewBallot:
		return "NewBallot"
	case OpComplete:
		return "Complete"
	case OpQuery:
		return "Query"
	}
	return fmt.Sprintf("op(%d)", k)
}

// MasterOp is a request to the configuration master, sent by any node to a
// member of the master group (or handled locally by a member). ID names it
// for the reply; a retry to another member keeps the ID, so the master
// applies it once.
type MasterOp struct {
	ID     uint64        `msgpack:"i"`
	Kind   uint8         `msgpack:"o"`
	Key    string        `msgpack:"k"`
	Ballot paxi.Ballot   `msgpack:"b"`
	Leader paxi.ID       `msgpack:"l"`
	Config Configuration `msgpack:"c"`
}

func (m MasterOp) String() string {
	switch m.Kind {
	case OpNewBallot:
		return fmt.Sprintf("MasterOp{#%d NewBallot k=%s if-issued=%v leader=%v cfg=%v}", m.ID, m.Key, m.Ballot, m.Leader, m.Config)
	case OpComplete:
		return fmt.Sprintf("MasterOp{#%d Complete k=%s b=%v}", m.ID, m.Key, m.Ballot)
	}
	return fmt.Sprintf("MasterOp{#%d %s k=%s}", m.ID, opName(m.Kind), m.Key)
}

// MasterReply answers a MasterOp with the master's record of the object
// right after the op was applied: the last ballot issued and its
// configuration, and the last ballot activated and its configuration. For
// a NewBallot it is the paper's NewBallot message (the new ballot, and the
// previous active ballot and configuration, whose state the new leader must
// read); for a Complete it is the paper's Activated.
type MasterReply struct {
	ID           uint64        `msgpack:"i"`
	Key          string        `msgpack:"k"`
	Issued       paxi.Ballot   `msgpack:"ib"`
	IssuedConfig Configuration `msgpack:"ic"`
	Active       paxi.Ballot   `msgpack:"ab"`
	ActiveConfig Configuration `msgpack:"ac"`
}

func (m MasterReply) String() string {
	return fmt.Sprintf("MasterReply{#%d k=%s issued=%v%v active=%v%v}", m.ID, m.Key, m.Issued, m.IssuedConfig, m.Active, m.ActiveConfig)
}

// MasterRequest carries a request of the master's own Multi-Paxos between
// master members (a member forwards its MasterOps to the master leader this
// way). It is a distinct type so that it never mixes with client requests.
type MasterRequest struct {
	Request paxi.Request `msgpack:"r"`
}

func (m MasterRequest) String() string { return "MasterRequest{" + m.Request.String() + "}" }

// Forward passes a client request to the node the sender believes leads
// the object, with the ballot it believes in, so that a receiver with an
// older view learns the newer one and requests never circle.
type Forward struct {
	Request paxi.Request `msgpack:"r"`
	Ballot  paxi.Ballot  `msgpack:"b"`
}

func (m Forward) String() string { return fmt.Sprintf("Forward{b=%v %v}", m.Ballot, m.Request) }

// P1a is sent by the leader of a new ballot to the previous active
// configuration: promise Ballot (which fences the old primary) and report
// your votes on slots from From on (the leader knows the committed prefix
// below From).
type P1a struct {
	Key    string      `msgpack:"k"`
	Ballot paxi.Ballot `msgpack:"b"`
	From   int64       `msgpack:"f"`
}

func (m P1a) String() string { return fmt.Sprintf("P1a{k=%s b=%v from=%d}", m.Key, m.Ballot, m.From) }

// P1b answers a P1a. Ballot is the acceptor's promise after handling it:
// equal to the P1a's for a promise (then Entries holds its votes from the
// P1a's From on), higher for a rejection.
type P1b struct {
	Key     string      `msgpack:"k"`
	Ballot  paxi.Ballot `msgpack:"b"`
	Entries []Entry     `msgpack:"e"`
}

func (m P1b) String() string {
	return fmt.Sprintf("P1b{k=%s b=%v %s}", m.Key, m.Ballot, entriesString(m.Entries))
}

// Transfer installs the state the leader of Ballot read from the previous
// configuration at a member of the new one: the votes (with their original
// ballots: copies, not votes in Ballot) on slots From..End. The receiver
// must already hold every committed slot below From.
type Transfer struct {
	Key     string      `msgpack:"k"`
	Ballot  paxi.Ballot `msgpack:"b"`
	From    int64       `msgpack:"f"`
	End     int64       `msgpack:"n"`
	Entries []Entry     `msgpack:"e"`
}

func (m Transfer) String() string {
	return fmt.Sprintf("Transfer{k=%s b=%v from=%d end=%d %s}", m.Key, m.Ballot, m.From, m.End, entriesString(m.Entries))
}

// TransferAck answers a Transfer. Ballot is the receiver's promise: equal
// to the Transfer's when installed (Need = -1) or when the receiver lacks
// committed slots below the Transfer's From (Need = its first missing
// slot: send again from there); higher for a rejection.
type TransferAck struct {
	Key    string      `msgpack:"k"`
	Ballot paxi.Ballot `msgpack:"b"`
	Need   int64       `msgpack:"n"`
}

func (m TransferAck) String() string {
	return fmt.Sprintf("TransferAck{k=%s b=%v need=%d}", m.Key, m.Ballot, m.Need)
}

// P2a asks a member of the active configuration to accept Command in Slot
// at Ballot.
type P2a struct {
	Key     string       `msgpack:"k"`
	Ballot  paxi.Ballot  `msgpack:"b"`
	Slot    int64        `msgpack:"s"`
	Command paxi.Command `msgpack:"c"`
}

func (m P2a) String() string {
	return fmt.Sprintf("P2a{k=%s b=%v slot=%d %v}", m.Key, m.Ballot, m.Slot, m.Command)
}

// P2b answers a P2a: Ballot is the acceptor's promise after handling it,
// equal to the P2a's when accepted, higher when rejected (the sender has
// been fenced by a newer configuration).
type P2b struct {
	Key    string      `msgpack:"k"`
	Ballot paxi.Ballot `msgpack:"b"`
	Slot   int64       `msgpack:"s"`
}

func (m P2b) String() string { return fmt.Sprintf("P2b{k=%s b=%v slot=%d}", m.Key, m.Ballot, m.Slot) }

// P3 tells a node (every node learns every object) that Slot committed
// with Command; Ballot is the ballot it was committed in.
type P3 struct {
	Key     string       `msgpack:"k"`
	Ballot  paxi.Ballot  `msgpack:"b"`
	Slot    int64        `msgpack:"s"`
	Command paxi.Command `msgpack:"c"`
}

func (m P3) String() string {
	return fmt.Sprintf("P3{k=%s b=%v slot=%d %v}", m.Key, m.Ballot, m.Slot, m.Command)
}

// BeatEntry is one object in a Beat: its active ballot and how many of its
// slots are committed (a prefix).
type BeatEntry struct {
	Key    string      `msgpack:"k"`
	Ballot paxi.Ballot `msgpack:"b"`
	Commit int64       `msgpack:"c"`
}

// Beat is sent by a node every heartbeat interval to every other node,
// listing the objects it is the active primary of that changed lately (and
// now and then all of them), so that learners that lost a P3 catch up and
// every node learns where to send requests. Not in the paper, which leaves
// learning to the learners.
type Beat struct {
	Entries []BeatEntry `msgpack:"e"`
}

func (m Beat) String() string {
	var b strings.Builder
	b.WriteString("Beat{")
	for i, e := range m.Entries {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s@%v:%d", e.Key, e.Ballot, e.Commit)
	}
	b.WriteByte('}')
	return b.String()
}

// CatchUp asks a primary for the committed slots From..To of an object.
type CatchUp struct {
	Key  string `msgpack:"k"`
	From int64  `msgpack:"f"`
	To   int64  `msgpack:"t"`
}

func (m CatchUp) String() string { return fmt.Sprintf("CatchUp{k=%s %d..%d}", m.Key, m.From, m.To) }

// Move is the locality policy's hint from an object's primary to a node of
// the zone that issued its recent requests: become the primary (ask the
// master for a ballot following Ballot).
type Move struct {
	Key    string      `msgpack:"k"`
	Ballot paxi.Ballot `msgpack:"b"`
}

func (m Move) String() string { return fmt.Sprintf("Move{k=%s after=%v}", m.Key, m.Ballot) }

// tick is the replica's periodic timer. It is local and never sent.
type tick struct{}

func (tick) String() string { return "tick" }

// masterTimer is a timer of the master's Multi-Paxos replica, wrapped so
// that the replica routes it back there. It is local and never sent.
type masterTimer struct{ m paxi.Message }

func (t masterTimer) String() string { return "master:" + t.m.String() }

// Messages lists the message types Vertical Paxos sends between nodes, in
// wire order, followed by those of the master's Multi-Paxos.
var Messages = []paxi.Message{
	MasterOp{}, MasterReply{}, MasterRequest{}, Forward{},
	P1a{}, P1b{}, Transfer{}, TransferAck{}, P2a{}, P2b{}, P3{}, Beat{}, CatchUp{}, Move{},
}
