package quorum

import (
	"fmt"
	"strings"

	"github.com/ailidani/paxi-style/paxi"
)

// Tracker counts the votes of one round (a phase-1 election, a phase-2 slot,
// an EPaxos pre-accept) against a System, and says when the round is won or
// lost. Each node's first vote counts and later ones are ignored, so
// duplicated or retransmitted replies cannot fake a quorum (a classic Paxi
// bug). Votes are kept as two bitsets, so Add and Result cost a binary search
// and a few popcounts and never allocate.
//
// A Tracker is a small value: keep it in a struct field rather than behind a
// pointer of its own (one allocation less per round), and call its methods
// through that field. A copy is an
// independent snapshot of the votes. The zero Tracker is not usable; make one
// with NewTracker. Like the replica that owns it, it is not safe for
// concurrent use.
type Tracker struct {
	sys    System
	nodes  []paxi.ID
	all    Set
	acks   Set
	nacks  Set
	result Result // cached once Won or Lost, which are final
}

// NewTracker returns a Tracker with no votes over sys. Systems from this
// package are always accepted; a custom System that breaks the contract
// (see System) is a programming error and NewTracker panics.
func NewTracker(sys System) Tracker {
	nodes := sys.Nodes()
	if err := checkNodes(nodes); err != nil {
		panic(fmt.Sprintf("quorum: NewTracker(%v): %v", sys, err))
	}
	all := Full(len(nodes))
	if !sys.IsQuorum(all) {
		panic(fmt.Sprintf("quorum: NewTracker(%v): has no quorum: even all nodes %s are not one", sys, formatIDs(nodes)))
	}
	return Tracker{sys: sys, nodes: nodes, all: all}
}

// System returns the quorum system the votes are counted against.
func (t *Tracker) System() System { return t.sys }

// index returns the position of id, and panics if id is not a node of the
// system: a vote from a node the protocol never asked is a protocol bug
// (a wrong configuration, or a message routed to the wrong round).
func (t *Tracker) index(id paxi.ID) int {
	i, ok := IndexOf(t.nodes, id)
	if !ok {
		panic(fmt.Sprintf("quorum: vote from %v, which is not a node of %s", id, describe(t.sys)))
	}
	return i
}

// Add records a vote from id: an ACK if ack is true, a NACK otherwise. It
// returns true if this is id's first vote, and false if id had already voted
// (either way), in which case the vote is ignored. It panics if id is not a
// node of the system.
func (t *Tracker) Add(id paxi.ID, ack bool) bool {
	bit := Set(1) << t.index(id)
	if (t.acks|t.nacks)&bit != 0 {
		return false
	}
	if ack {
		t.acks |= bit
	} else {
		t.nacks |= bit
	}
	return true
}

// Ack records an ACK from id; see Add.
func (t *Tracker) Ack(id paxi.ID) bool { return t.Add(id, true) }

// Nack records a NACK from id; see Add.
func (t *Tracker) Nack(id paxi.ID) bool { return t.Add(id, false) }

// Result returns Won if the ACKs contain a quorum, Lost if no quorum fits in
// the nodes that have not NACKed, and Pending otherwise. Won and Lost never
// both hold (ACKs and NACKs are disjoint and the system is monotone) and are
// final.
func (t *Tracker) Result() Result {
	if t.result != Pending {
		return t.result
	}
	switch {
	case t.sys.IsQuorum(t.acks):
		t.result = Won
	case t.nacks != 0 && !t.sys.IsQuorum(t.all&^t.nacks):
		// With no NACKs the full set is a quorum (checked in NewTracker).
		t.result = Lost
	}
	return t.result
}

// Acks returns the nodes that ACKed, as a Set over System().Nodes().
func (t *Tracker) Acks() Set { return t.acks }

// Nacks returns the nodes that NACKed, as a Set over System().Nodes().
func (t *Tracker) Nacks() Set { return t.nacks }

// Voted reports whether id has voted. It panics if id is not a node of the
// system.
func (t *Tracker) Voted(id paxi.ID) bool {
	return (t.acks | t.nacks).Has(t.index(id))
}

// Reset forgets all votes, for the next round over the same system.
func (t *Tracker) Reset() {
	t.acks, t.nacks, t.result = 0, 0, Pending
}

// String describes the votes, e.g.
// "majority(2 of 3): won acks={1.1,1.2} nacks={}". It allocates; it is for
// logs and tests.
func (t *Tracker) String() string {
	var b strings.Builder
	b.WriteString(t.sys.String())
	b.WriteString(": ")
	b.WriteString(t.Result().String())
	b.WriteString(" acks=")
	b.WriteString(formatIDs(Members(t.nodes, t.acks)))
	b.WriteString(" nacks=")
	b.WriteString(formatIDs(Members(t.nodes, t.nacks)))
	return b.String()
}
