package paxos

import (
	"fmt"
	"slices"

	"github.com/ailidani/paxi-style/paxi"
)

// durableState is what a Paxos acceptor keeps on stable storage: its
// promise and the values it accepted (and knows committed). Everything else
// (leadership, queued requests, the store) is rebuilt after a restart: the
// store by re-executing the committed prefix of the log.
type durableState struct {
	Ballot paxi.Ballot
	Log    []Entry
}

// Durable implements paxi.Durable.
func (p *Paxos) Durable() any {
	st := durableState{Ballot: p.ballot}
	for s := int64(0); s <= p.slot; s++ {
		if e := p.log[s]; e != nil {
			st.Log = append(st.Log, Entry{Slot: s, Ballot: e.ballot, Commands: slices.Clone(e.cmds), Committed: e.committed})
		}
	}
	return st
}

// Recover recreates a replica from its durable state after a crash.
func Recover(env paxi.Env, durable any) (paxi.Replica, error) {
	st, ok := durable.(durableState)
	if !ok {
		return nil, fmt.Errorf("paxos: recover from %T, want the state Durable returned", durable)
	}
	r, err := New(env)
	if err != nil {
		return nil, err
	}
	p := r.(*Paxos)
	p.ballot = st.Ballot
	for _, e := range st.Log {
		p.log[e.Slot] = &entry{ballot: e.Ballot, cmds: e.Commands, committed: e.Committed}
		p.slot = max(p.slot, e.Slot)
	}
	p.exec()
	return p, nil
}
