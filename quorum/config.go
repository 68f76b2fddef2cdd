package quorum

import (
	"fmt"

	"github.com/ailidani/paxi-style/paxi"
)

// FromConfig builds the quorum pair a configuration names over nodes, and
// proves that every Q1 meets every Q2 (for clusters up to MaxCheckNodes
// nodes; larger count-based pairs are accepted on the arithmetic argument
// q1+q2 > n, majorities always).
func FromConfig(nodes []paxi.ID, q paxi.QuorumConfig) (Pair, error) {
	var q1, q2 System
	var err error
	switch q.System {
	case "", paxi.QuorumMajority:
		q1, err = Majority(nodes)
		return Pair{Q1: q1, Q2: q1}, err
	case paxi.QuorumCount:
		q1, q2, err = Flexible(nodes, q.Q1, q.Q2)
		if err != nil {
			return Pair{}, err
		}
		return Pair{Q1: q1, Q2: q2}, nil
	case paxi.QuorumGridZoneQ1, paxi.QuorumGridZoneQ2:
		zone, err := AllOfSomeZone(nodes)
		if err != nil {
			return Pair{}, err
		}
		every, err := OneFromEveryZone(nodes)
		if err != nil {
			return Pair{}, err
		}
		if q.System == paxi.QuorumGridZoneQ1 {
			q1, q2 = zone, every
		} else {
			q1, q2 = every, zone
		}
	default:
		return Pair{}, fmt.Errorf("%w: unknown quorum system %q", ErrInvalid, q.System)
	}
	if len(nodes) > MaxCheckNodes {
		return Pair{Q1: q1, Q2: q2}, nil // grids meet by construction
	}
	return NewPair(q1, q2)
}
