package paxos

import (
	"fmt"

	"github.com/ailidani/paxi-style/paxi"
)

// durableState is what a Paxos replica keeps on stable storage: its
// promise, the values it accepted (and knows committed), and how far it has
// applied the log to the store, which is durable too. Leadership, queued
// requests and timers are lost in a crash.
type durableState struct {
	ballot  paxi.Ballot
	log     slotLog
	slot    int64
	execute int64
}

// Durable implements paxi.Durable. The replica is discarded after a crash,
// so it hands over its log instead of copying it.
func (p *Paxos) Durable() any {
	return durableState{ballot: p.ballot, log: p.log, slot: p.slot, execute: p.execute}
}

// Recover recreates a majority-quorum replica after a crash from its
// durable state; the store in env is the one it had applied up to that
// state's execute.
func Recover(env paxi.Env, durable any) (paxi.Replica, error) {
	p, err := NewWithOptions(env, Options{})
	if err != nil {
		return nil, err
	}
	return p, p.Restore(durable)
}

// Restore loads the durable state of a crashed replica into a new one,
// made with the same options.
func (p *Paxos) Restore(durable any) error {
	st, ok := durable.(durableState)
	if !ok {
		return fmt.Errorf("paxos: restore from %T, want the state Durable returned", durable)
	}
	p.ballot, p.log, p.slot, p.execute = st.ballot, st.log, st.slot, st.execute
	p.commit = p.execute
	p.exec()
	return nil
}
