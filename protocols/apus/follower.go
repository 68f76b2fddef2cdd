package apus

import "fmt"

// handleLogChanged runs when a leader wrote this node's end or commit
// word. A follower checks every entry below the new end (the end pointer
// is written after the entries on the same queue pair, so they are whole;
// the checksum verifies it), acknowledges, and applies what is committed:
// below both words, when one leader wrote both.
func (r *Replica) handleLogChanged() {
	r.checkFence()
	if r.role == leader {
		return
	}
	tE, e := unpack(r.log.Load64(offEnd))
	tC, c := unpack(r.log.Load64(offCommit))
	if r.role == follower && tE == r.term && (tE != r.endTerm || e != r.end) {
		if e < r.applied {
			panic(fmt.Sprintf("apus %v: leader of term %d set the end to %d, below the %d entries applied here", r.id, tE, e, r.applied))
		}
		from := r.applied
		if tE == r.endTerm && e >= r.end {
			from = r.end
		}
		for j := from; j < e; j++ {
			t, err := r.checkSlot(j)
			if err == nil && t > tE {
				err = fmt.Errorf("apus: entry %d of term %d under an end word of term %d", j, t, tE)
			}
			if err != nil {
				panic(fmt.Sprintf("apus %v: entry %d below the end word %d of term %d does not check: %v", r.id, j, e, tE, err))
			}
		}
		r.end, r.endTerm = e, tE
	}
	if tE == tC {
		r.apply(min(e, c))
	}
	r.writeAck(false)
}
