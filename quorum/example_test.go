package quorum_test

import (
	"errors"
	"fmt"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/quorum"
)

func nodes(ss ...string) []paxi.ID {
	ids := make([]paxi.ID, len(ss))
	for i, s := range ss {
		ids[i] = paxi.MustID(s)
	}
	return ids
}

// A phase-2 round of Multi-Paxos over five nodes: the leader counts P2b
// replies until a majority accepts, or until too many reject.
func ExampleTracker() {
	q, err := quorum.Majority(nodes("1.1", "1.2", "1.3", "1.4", "1.5"))
	if err != nil {
		panic(err)
	}
	t := quorum.NewTracker(q)
	t.Ack(paxi.MustID("1.1"))
	t.Ack(paxi.MustID("1.1")) // a retransmitted reply counts once
	t.Nack(paxi.MustID("1.4"))
	t.Ack(paxi.MustID("1.2"))
	fmt.Println(t.Result())
	t.Ack(paxi.MustID("1.5"))
	fmt.Println(t.String())
	// Output:
	// pending
	// majority(3 of 5): won acks={1.1,1.2,1.5} nacks={1.4}
}

// Flexible Paxos over five nodes: commits need two nodes, so leader changes
// need four; three and two could miss each other and are refused.
func ExampleFlexible() {
	ns := nodes("1.1", "1.2", "1.3", "1.4", "1.5")
	q1, q2, err := quorum.Flexible(ns, 4, 2)
	fmt.Println(q1, q2, err)
	_, _, err = quorum.Flexible(ns, 3, 2)
	fmt.Println(errors.Is(err, quorum.ErrInvalid), err)
	// Output:
	// count(4 of 5) count(2 of 5) <nil>
	// true quorum: invalid system: flexible: phase-1 quorum of 3 and phase-2 quorum of 2 out of 5 nodes can miss each other: need q1+q2 > n
}

// WPaxos quorums over three zones of three nodes, tolerating one zone
// failure, and the grid quorums Paxi uses for fz = 0 in the wrong order.
func ExampleCheckIntersection() {
	ns := nodes("1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "3.1", "3.2", "3.3")
	q1, q2, err := quorum.FGrid(ns, 1)
	if err != nil {
		panic(err)
	}
	fmt.Println(quorum.CheckIntersection(q1, q2))

	whole, _ := quorum.AllOfSomeZone(ns)
	fmt.Println(quorum.CheckIntersection(whole, whole))
	// Output:
	// <nil>
	// quorum: all-of-some-zone(zones=3,nodes=3) and all-of-some-zone(zones=3,nodes=3) can miss each other: {1.1,1.2,1.3} is a phase-1 quorum and {3.1,3.2,3.3} a phase-2 quorum with no node in common
}
