package quorum

import (
	"math/bits"
	"slices"
	"strings"

	"github.com/ailidani/paxi-style/paxi"
)

// MaxNodes is the largest number of nodes a System may have. A Set is one
// 64-bit word, which keeps votes and quorum tests free of allocation; the
// clusters this framework runs are far smaller.
const MaxNodes = 64

// Set is a set of nodes of one System, as a bit mask over the positions of
// System.Nodes: bit i stands for Nodes()[i]. Two systems built over the same
// nodes number them the same way (nodes are kept sorted), so their Sets can be
// mixed. Sets are plain values: copy, compare and combine them with the usual
// bit operators (a|b, a&b, a&^b).
type Set uint64

// Full returns the set of the first n nodes, i.e. every node of a system with
// n nodes.
func Full(n int) Set {
	if n >= 64 {
		return ^Set(0)
	}
	return Set(1)<<n - 1
}

// Has reports whether the node at position i is in s.
func (s Set) Has(i int) bool { return s&(Set(1)<<i) != 0 }

// Len returns the number of nodes in s.
func (s Set) Len() int { return bits.OnesCount64(uint64(s)) }

// IndexOf returns the position of id in the sorted node list nodes, and
// whether it is there at all. It is a binary search: cheap, and free of
// allocation.
func IndexOf(nodes []paxi.ID, id paxi.ID) (int, bool) {
	return slices.BinarySearch(nodes, id)
}

// SetOf returns the Set of the given IDs over the sorted node list nodes
// (usually System.Nodes). It is meant for setup code and tests; it reports an
// ID that is not in nodes as an error.
func SetOf(nodes []paxi.ID, ids ...paxi.ID) (Set, error) {
	var s Set
	for _, id := range ids {
		i, ok := IndexOf(nodes, id)
		if !ok || i >= MaxNodes {
			return 0, invalid("node %v is not one of %s", id, formatIDs(nodes))
		}
		s |= Set(1) << i
	}
	return s, nil
}

// Members returns the IDs of the nodes in s, in order. It allocates, so it is
// for logs, errors and tests rather than for hot paths.
func Members(nodes []paxi.ID, s Set) []paxi.ID {
	ids := make([]paxi.ID, 0, s.Len())
	for i, id := range nodes {
		if i < MaxNodes && s.Has(i) {
			ids = append(ids, id)
		}
	}
	return ids
}

// formatIDs prints IDs as "{1.1,1.2}", the form used in every message of this
// package.
func formatIDs(ids []paxi.ID) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(id.String())
	}
	b.WriteByte('}')
	return b.String()
}
