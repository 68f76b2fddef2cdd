package epaxos

import (
	"fmt"

	"github.com/ailidani/paxi-style/paxi"
)

// durableState is what an EPaxos replica keeps on stable storage: every
// instance's acceptor state (ballots, status, commands, attributes,
// whether it was an original pre-accept, whether it was executed), the
// conflict tables, and how far each row is committed and executed. It
// implies the next own instance number (the own row's length), so a
// restarted replica never reuses an instance. The store is durable too, and
// holds exactly the executed instances' effects. Lost in a crash: client
// requests waiting here, leader and recovery bookkeeping, timers.
type durableState struct {
	rows                                [][]*instance
	committedTo, maxCommitted, executed []int64
	execCount                           uint64
	lastAny, lastWrite                  []map[string]int64
	seqAny, seqWrite                    map[string]uint64
}

// Durable implements paxi.Durable. The replica is discarded after a crash,
// so it hands over its data structures instead of copying them.
func (e *EPaxos) Durable() any {
	return durableState{rows: e.rows, committedTo: e.committedTo, maxCommitted: e.maxCommitted, executed: e.executedTo,
		execCount: e.execCount, lastAny: e.lastAny, lastWrite: e.lastWrite, seqAny: e.seqAny, seqWrite: e.seqWrite}
}

// Recover recreates a replica after a crash from its durable state. Its
// uncommitted instances are recovered like anyone else's once they stay
// stuck; in particular it never resumes its own proposals at the initial
// ballot, so it cannot take a fast path it may have promised away.
func Recover(env paxi.Env, durable any) (paxi.Replica, error) {
	st, ok := durable.(durableState)
	if !ok {
		return nil, fmt.Errorf("epaxos: recover from %T, want the state Durable returned", durable)
	}
	e, err := newEPaxos(env)
	if err != nil {
		return nil, err
	}
	if len(st.rows) != e.n {
		return nil, fmt.Errorf("epaxos: recover: durable state has %d rows for %d replicas", len(st.rows), e.n)
	}
	e.rows, e.committedTo, e.maxCommitted, e.executedTo = st.rows, st.committedTo, st.maxCommitted, st.executed
	e.execCount, e.lastAny, e.lastWrite, e.seqAny, e.seqWrite = st.execCount, st.lastAny, st.lastWrite, st.seqAny, st.seqWrite
	for _, row := range e.rows {
		for _, inst := range row {
			if inst == nil {
				continue
			}
			inst.lead, inst.needed, inst.tracked, inst.proposal, inst.counted = nil, false, false, nil, false
			inst.seen, inst.tPass, inst.tBlocked, inst.tOnStack = 0, 0, 0, false
			if inst.status != Committed {
				e.touch(inst)
			}
		}
	}
	e.dirty = true
	e.flush()
	return e, nil
}
