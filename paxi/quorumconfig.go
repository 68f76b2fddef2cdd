package paxi

import (
	"fmt"
	"slices"
)

// Quorum systems a QuorumConfig can name.
const (
	// QuorumMajority: both phases wait for a majority.
	QuorumMajority = "majority"
	// QuorumCount: phase 1 waits for any Q1 nodes and phase 2 for any Q2;
	// safe only if Q1 + Q2 > N.
	QuorumCount = "count"
	// QuorumGridZoneQ1: zones are the rows of a grid; phase 1 waits for all
	// nodes of some zone, phase 2 for one node of every zone.
	QuorumGridZoneQ1 = "grid-zone-q1"
	// QuorumGridZoneQ2: the transpose: phase 1 waits for one node of every
	// zone, phase 2 for all nodes of some zone (fast commits inside a zone).
	QuorumGridZoneQ2 = "grid-zone-q2"
)

// QuorumSystems lists the names a QuorumConfig accepts.
var QuorumSystems = []string{QuorumMajority, QuorumCount, QuorumGridZoneQ1, QuorumGridZoneQ2}

// QuorumConfig chooses phase-1 (Q1) and phase-2 (Q2) quorums. Every Q1 must
// meet every Q2 for Paxos to be safe; the protocol's validation proves it
// for the configured cluster and rejects the pair otherwise.
type QuorumConfig struct {
	// System is one of QuorumSystems; empty means majority.
	System string `json:"system,omitempty"`
	// Q1 and Q2 are the quorum sizes of the "count" system.
	Q1 int `json:"q1,omitempty"`
	Q2 int `json:"q2,omitempty"`
	// Thrifty sends phase-2 messages only to a smallest Q2 (the leader and
	// the next nodes after it) instead of to everyone, and to the others
	// only when a slot is not committed within half an election timeout.
	// It saves messages at the price of a stall when one of them is slow.
	Thrifty bool `json:"thrifty,omitempty"`
}

func (q QuorumConfig) validate(n int) []error {
	var errs []error
	switch {
	case q.System == "" || q.System == QuorumMajority:
		if q.Q1 != 0 || q.Q2 != 0 {
			errs = append(errs, fmt.Errorf("quorum.q1/q2 = %d/%d: sizes apply only to quorum.system %q", q.Q1, q.Q2, QuorumCount))
		}
	case q.System == QuorumCount:
		if q.Q1 < 1 || q.Q1 > n || q.Q2 < 1 || q.Q2 > n {
			errs = append(errs, fmt.Errorf("quorum.q1 = %d, quorum.q2 = %d: each must be in [1,%d] (the number of nodes)", q.Q1, q.Q2, n))
		} else if q.Q1+q.Q2 <= n {
			errs = append(errs, fmt.Errorf("quorum.q1 = %d and quorum.q2 = %d out of %d nodes can miss each other: need q1+q2 > %d", q.Q1, q.Q2, n, n))
		}
	case slices.Contains(QuorumSystems, q.System):
		if q.Q1 != 0 || q.Q2 != 0 {
			errs = append(errs, fmt.Errorf("quorum.q1/q2 = %d/%d: sizes apply only to quorum.system %q", q.Q1, q.Q2, QuorumCount))
		}
	default:
		errs = append(errs, fmt.Errorf("quorum.system = %q: must be one of %q", q.System, QuorumSystems))
	}
	return errs
}
