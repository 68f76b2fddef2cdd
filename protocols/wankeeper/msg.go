package wankeeper

import (
	"fmt"
	"strings"

	"github.com/ailidani/paxi-style/paxi"
)

// Kind is what a Record in a zone log does.
type Kind uint8

// The kinds of record. Holder zones log Cmd, TokenIn and TokenOut; the master
// zone logs Cmd, Grant and Return. Noop fills a hole a new zone leader found.
const (
	// Noop does nothing: a slot no acceptor of the zone accepted anything in.
	Noop Kind = iota
	// Cmd is a client command. It is executed, at the next key slot of its
	// key, if the zone holds the key's token at that point of its log, and
	// bounced (not executed) otherwise.
	Cmd
	// TokenIn: the zone takes the token of Key at Epoch; its key slots
	// continue after Last.
	TokenIn
	// TokenOut: the zone gives up the token of Key it holds at Epoch; the
	// last key slot it used is known from the log at that point.
	TokenOut
	// Grant (master zone only): the token of Key goes to Zone at Epoch.
	Grant
	// Return (master zone only): the token Zone held at Epoch is back at the
	// master, and key slots continue after Last.
	Return
)

var kindNames = [...]string{"noop", "cmd", "in", "out", "grant", "return"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Record is one item of a zone log slot: a client command or a step of a
// token transfer. Token transfers are ordered in the same log as the
// commands, which is what makes a transfer exact: the commands before a
// TokenOut are the old holder's, the ones after it bounce.
type Record struct {
	Kind Kind `msgpack:"k"`
	// Command is the client command of a Cmd.
	Command paxi.Command `msgpack:"c"`
	// Key names the token of TokenIn, TokenOut, Grant and Return.
	Key string `msgpack:"y"`
	// Zone is the zone the command came from (Cmd, for the grant
	// policy), the new holder (Grant) or the old holder (Return).
	Zone int `msgpack:"z"`
	// Epoch is the token's epoch (TokenIn, TokenOut, Grant, Return).
	Epoch uint64 `msgpack:"e"`
	// Last is the last key slot used before the record (TokenIn, Return).
	Last int64 `msgpack:"l"`
}

func (r Record) String() string {
	switch r.Kind {
	case Noop:
		return "noop"
	case Cmd:
		return fmt.Sprintf("%v@z%d", r.Command, r.Zone)
	case TokenIn, Return:
		return fmt.Sprintf("%v(%s z%d e%d last=%d)", r.Kind, r.Key, r.Zone, r.Epoch, r.Last)
	default:
		return fmt.Sprintf("%v(%s z%d e%d)", r.Kind, r.Key, r.Zone, r.Epoch)
	}
}

func recordsString(rs []Record) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(r.String())
	}
	b.WriteByte(']')
	return b.String()
}

// The zone-local replication messages are Multi-Paxos among the nodes of one
// zone, named as in the paper's message table (NewBallot and Vote are phase
// 1, Proposal and Ack phase 2, Commit phase 3). Every one carries its zone.

// NewBallot starts a zone-leader election: the sender asks the nodes of
// its zone to promise Ballot. Execute is the sender's applied prefix of the
// zone log; voters report their log from there on.
type NewBallot struct {
	Zone    int         `msgpack:"z"`
	Ballot  paxi.Ballot `msgpack:"b"`
	Execute int64       `msgpack:"e"`
}

func (m NewBallot) String() string {
	return fmt.Sprintf("NewBallot{z%d b=%v exec=%d}", m.Zone, m.Ballot, m.Execute)
}

// Vote answers a NewBallot. Ballot is the voter's ballot after handling it:
// the NewBallot's for a promise, higher for a refusal. Log holds every slot
// the voter accepted or knows committed at or above the NewBallot's
// Execute, committed ones flagged; Slot is the highest slot it knows.
type Vote struct {
	Zone   int         `msgpack:"z"`
	Ballot paxi.Ballot `msgpack:"b"`
	Slot   int64       `msgpack:"s"`
	Log    []Entry     `msgpack:"l"`
}

func (m Vote) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Vote{z%d b=%v slot=%d log=[", m.Zone, m.Ballot, m.Slot)
	for i, e := range m.Log {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e.String())
	}
	b.WriteString("]}")
	return b.String()
}

// Entry is one zone log slot as reported in a Vote.
type Entry struct {
	Slot      int64       `msgpack:"s"`
	Ballot    paxi.Ballot `msgpack:"b"`
	Records   []Record    `msgpack:"r"`
	Committed bool        `msgpack:"c"`
}

func (e Entry) String() string {
	mark := ""
	if e.Committed {
		mark = "*"
	}
	return fmt.Sprintf("%d:%v%s%s", e.Slot, e.Ballot, mark, recordsString(e.Records))
}

// Proposal asks the nodes of the zone to accept Records in Slot at Ballot.
type Proposal struct {
	Zone    int         `msgpack:"z"`
	Ballot  paxi.Ballot `msgpack:"b"`
	Slot    int64       `msgpack:"s"`
	Records []Record    `msgpack:"r"`
}

func (m Proposal) String() string {
	return fmt.Sprintf("Proposal{z%d b=%v slot=%d %s}", m.Zone, m.Ballot, m.Slot, recordsString(m.Records))
}

// Ack answers a Proposal. Ballot is the sender's ballot after handling it:
// equal to the Proposal's when accepted, higher when refused.
type Ack struct {
	Zone   int         `msgpack:"z"`
	Ballot paxi.Ballot `msgpack:"b"`
	Slot   int64       `msgpack:"s"`
}

func (m Ack) String() string { return fmt.Sprintf("Ack{z%d b=%v slot=%d}", m.Zone, m.Ballot, m.Slot) }

// Commit says that Slot of the zone's log is committed. The zone leader
// sends it to every node, of every zone: each node learns every zone's log.
// Records is empty only for the zone's nodes that accepted the slot at
// Ballot (they hold it); CatchUp answers always fill it.
type Commit struct {
	Zone    int         `msgpack:"z"`
	Ballot  paxi.Ballot `msgpack:"b"`
	Slot    int64       `msgpack:"s"`
	Records []Record    `msgpack:"r"`
}

func (m Commit) String() string {
	return fmt.Sprintf("Commit{z%d b=%v slot=%d %s}", m.Zone, m.Ballot, m.Slot, recordsString(m.Records))
}

// Heartbeat is sent by an active zone leader every heartbeat interval to
// every node. It announces the leader (the paper's NewLeader), keeps the
// zone's followers from starting an election, and tells every node how far
// the zone's log goes (Slot) and which prefix is committed (Commit: every
// slot below it), so that a node that lost a Commit asks for it.
type Heartbeat struct {
	Zone   int         `msgpack:"z"`
	Ballot paxi.Ballot `msgpack:"b"`
	Slot   int64       `msgpack:"s"`
	Commit int64       `msgpack:"c"`
}

func (m Heartbeat) String() string {
	return fmt.Sprintf("Heartbeat{z%d b=%v slot=%d commit=%d}", m.Zone, m.Ballot, m.Slot, m.Commit)
}

// CatchUp asks for the committed slots From..To (inclusive) of Zone's log.
// Any node that has them answers with Commit messages.
type CatchUp struct {
	Zone int   `msgpack:"z"`
	From int64 `msgpack:"f"`
	To   int64 `msgpack:"t"`
}

func (m CatchUp) String() string { return fmt.Sprintf("CatchUp{z%d %d..%d}", m.Zone, m.From, m.To) }

// Revoke asks the leader of the zone holding Key's token at Epoch to give it
// back: the master wants it for another zone's request.
type Revoke struct {
	Key   string `msgpack:"k"`
	Epoch uint64 `msgpack:"e"`
}

func (m Revoke) String() string { return fmt.Sprintf("Revoke{%s e%d}", m.Key, m.Epoch) }

// Token grants Key's token at Epoch to the receiving zone; its key slots
// continue after Last. The master sends it once the Grant is committed in
// its log, and again until the zone's log shows the TokenIn. (A returned
// token needs no message: the master learns the holder's TokenOut from the
// holder's log, like every node.)
type Token struct {
	Key   string `msgpack:"k"`
	Epoch uint64 `msgpack:"e"`
	Last  int64  `msgpack:"l"`
}

func (m Token) String() string { return fmt.Sprintf("Token{%s e%d last=%d}", m.Key, m.Epoch, m.Last) }

// tick is the replica's periodic timer. It is local and never sent.
type tick struct{}

func (tick) String() string { return "tick" }

// Messages lists the message types WanKeeper sends between nodes, in wire
// order.
var Messages = []paxi.Message{NewBallot{}, Vote{}, Proposal{}, Ack{}, Commit{}, Heartbeat{}, CatchUp{}, Revoke{}, Token{}}
