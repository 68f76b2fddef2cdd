package paxos

import "fmt"

// slotLog is the replicated log: entries by slot number, from slot 0. It is
// a slice rather than a map because slots are dense and the hot paths
// (commit, execute, heartbeats) walk it in order.
type slotLog struct {
	entries []*entry
}

// maxSlotGap bounds how far beyond the log's end a message may name a slot:
// a corrupt or hostile slot number must not make a replica allocate
// gigabytes.
const maxSlotGap = 1 << 20

// at returns the entry of slot s, or nil.
func (l *slotLog) at(s int64) *entry {
	if s < 0 || s >= int64(len(l.entries)) {
		return nil
	}
	return l.entries[s]
}

// set stores e as the entry of slot s.
func (l *slotLog) set(s int64, e *entry) {
	if s < 0 || s-int64(len(l.entries)) > maxSlotGap {
		panic(fmt.Sprintf("paxos: slot %d out of range (log has %d slots)", s, len(l.entries)))
	}
	for int64(len(l.entries)) <= s {
		l.entries = append(l.entries, nil)
	}
	l.entries[s] = e
}

// len returns the number of slots the log spans.
func (l *slotLog) len() int { return len(l.entries) }

// valid reports whether a slot number from a message is plausible: not
// negative and not absurdly far beyond the log's end.
func (l *slotLog) valid(s int64) bool {
	return s >= -1 && s-int64(len(l.entries)) <= maxSlotGap
}
