package quorum

import "strconv"

// Result is the state of a vote: still open, won or lost. A tri-state result,
// rather than Paxi's "is it a quorum yet" bool, lets a protocol act on a lost
// vote (step down, retry with a higher ballot) as soon as the NACKs make a
// quorum of ACKs impossible, instead of waiting for a timeout.
type Result int

const (
	// Pending means neither outcome is decided: the ACKs do not contain a
	// quorum yet, but the nodes that have not NACKed still do. It is the zero
	// Result, so a fresh Tracker and a zero-valued field agree.
	Pending Result = iota
	// Won means the ACKs contain a quorum. It is final: more votes cannot
	// change it.
	Won
	// Lost means the NACKs leave no quorum among the remaining nodes, so the
	// vote can never be won. It is final too.
	Lost
)

// String returns "pending", "won" or "lost".
func (r Result) String() string {
	switch r {
	case Pending:
		return "pending"
	case Won:
		return "won"
	case Lost:
		return "lost"
	}
	return "Result(" + strconv.Itoa(int(r)) + ")"
}
