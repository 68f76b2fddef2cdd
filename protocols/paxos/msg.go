package paxos

import (
	"fmt"
	"strings"

	"github.com/ailidani/paxi-style/paxi"
)

// P1a is a phase-1 prepare: the sender asks to lead with Ballot. Execute is
// the sender's executed prefix; acceptors report their log from there on,
// since the sender already knows everything below it.
type P1a struct {
	Ballot  paxi.Ballot `msgpack:"b"`
	Execute int64       `msgpack:"e"`
}

func (m P1a) String() string { return fmt.Sprintf("P1a{b=%v exec=%d}", m.Ballot, m.Execute) }

// P1b answers a P1a. Ballot is the acceptor's ballot after handling the P1a:
// equal to the P1a's for a promise, higher for a rejection. Log holds every
// entry the acceptor accepted or committed at or above the P1a's Execute,
// committed ones flagged (§1.6 fix 1: a new leader must learn committed
// slots, or it could reuse them). Slot is the highest slot it knows.
type P1b struct {
	Ballot paxi.Ballot `msgpack:"b"`
	Slot   int64       `msgpack:"s"`
	Log    []Entry     `msgpack:"l"`
}

func (m P1b) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "P1b{b=%v slot=%d log=[", m.Ballot, m.Slot)
	for i, e := range m.Log {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e.String())
	}
	b.WriteString("]}")
	return b.String()
}

// Entry is one log slot as reported in a P1b.
type Entry struct {
	Slot      int64          `msgpack:"s"`
	Ballot    paxi.Ballot    `msgpack:"b"`
	Commands  []paxi.Command `msgpack:"c"`
	Committed bool           `msgpack:"k"`
}

func (e Entry) String() string {
	return fmt.Sprintf("%d:%v%s%s", e.Slot, e.Ballot, commitMark(e.Committed), paxi.CommandsString(e.Commands))
}

// P2a asks acceptors to accept a batch of commands in Slot at Ballot.
type P2a struct {
	Ballot   paxi.Ballot    `msgpack:"b"`
	Slot     int64          `msgpack:"s"`
	Commands []paxi.Command `msgpack:"c"`
}

func (m P2a) String() string {
	return fmt.Sprintf("P2a{b=%v slot=%d %s}", m.Ballot, m.Slot, paxi.CommandsString(m.Commands))
}

// P2b answers a P2a. Ballot is the acceptor's ballot after handling it: equal
// to the P2a's when accepted, higher when rejected.
type P2b struct {
	Ballot paxi.Ballot `msgpack:"b"`
	Slot   int64       `msgpack:"s"`
}

func (m P2b) String() string { return fmt.Sprintf("P2b{b=%v slot=%d}", m.Ballot, m.Slot) }

// P3 tells a node that Slot is committed. The leader leaves Commands empty
// for acceptors that accepted the slot at Ballot (they hold the value
// already) and fills it for everyone else and for CatchUp answers.
type P3 struct {
	Ballot   paxi.Ballot    `msgpack:"b"`
	Slot     int64          `msgpack:"s"`
	Commands []paxi.Command `msgpack:"c"`
}

func (m P3) String() string {
	return fmt.Sprintf("P3{b=%v slot=%d %s}", m.Ballot, m.Slot, paxi.CommandsString(m.Commands))
}

// Heartbeat is sent by an active leader every heartbeat interval. It keeps
// followers from starting an election and tells them how far the log goes
// (Slot) and which prefix is committed (Commit: every slot below it), so that
// a follower that lost a P2a or P3 can commit what it holds or ask to catch
// up. Not in the paper: the paper leaves leader election open (§1.4).
type Heartbeat struct {
	Ballot paxi.Ballot `msgpack:"b"`
	Slot   int64       `msgpack:"s"`
	Commit int64       `msgpack:"c"`
}

func (m Heartbeat) String() string {
	return fmt.Sprintf("Heartbeat{b=%v slot=%d commit=%d}", m.Ballot, m.Slot, m.Commit)
}

// CatchUp asks the leader for the committed slots From..To (inclusive) that
// the sender is missing. It is answered with P3 messages carrying commands.
type CatchUp struct {
	From int64 `msgpack:"f"`
	To   int64 `msgpack:"t"`
}

func (m CatchUp) String() string { return fmt.Sprintf("CatchUp{%d..%d}", m.From, m.To) }

// tick is the replica's periodic timer: heartbeats and retransmissions when
// leading, failure detection otherwise. It is local and never sent.
type tick struct{}

func (tick) String() string { return "tick" }

// Messages lists the message types Multi-Paxos sends between nodes, in wire
// order.
var Messages = []paxi.Message{P1a{}, P1b{}, P2a{}, P2b{}, P3{}, Heartbeat{}, CatchUp{}}

func commitMark(c bool) string {
	if c {
		return "*"
	}
	return ""
}
