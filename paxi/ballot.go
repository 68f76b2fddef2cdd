package paxi

import "fmt"

// Ballot is a Paxos ballot number: a round number and the ID of the node that
// owns it, packed as round<<32 | zone<<16 | node. Ballots are totally ordered
// (by round, then zone, then node) and two nodes never own the same ballot.
// Ballot 0 means "no ballot yet".
type Ballot uint64

// NewBallot returns the ballot of the given round owned by id.
func NewBallot(round uint32, id ID) Ballot { return Ballot(uint64(round)<<32 | uint64(id)) }

// Round returns the round number.
func (b Ballot) Round() uint32 { return uint32(b >> 32) }

// ID returns the node that owns the ballot.
func (b Ballot) ID() ID { return ID(uint32(b)) }

// Next returns the smallest ballot owned by id that is greater than b.
func (b Ballot) Next(id ID) Ballot {
	if b.Round() == ^uint32(0) {
		panic(fmt.Sprintf("paxi: ballot %v: round overflow", b))
	}
	return NewBallot(b.Round()+1, id)
}

// String returns "round.zone.node", the form Paxi prints in its Ballot header.
func (b Ballot) String() string {
	return fmt.Sprintf("%d.%d.%d", b.Round(), b.ID().Zone(), b.ID().Node())
}
