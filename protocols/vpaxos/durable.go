package vpaxos

import (
	"fmt"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/store"
)

// durableState is what a Vertical Paxos node keeps on stable storage: per
// object its promise, the ballot it installed last, its log and how far it
// applied it (the store is durable too), and its view of the newest ballot;
// and, on a master member, the master's Multi-Paxos state and its store.
// Leaderships, queued requests, master ops in flight and timers are lost in
// a crash: a primary that restarts is no longer active, and asks the master
// for a new ballot when a request reaches it.
type durableState struct {
	objects     map[string]*object
	keys        []string
	masterStore *store.Store
	master      any
}

// Durable implements paxi.Durable. The replica is discarded after a crash,
// so it hands over its objects instead of copying them.
func (r *VPaxos) Durable() any {
	d := durableState{objects: r.objects, keys: r.keys}
	if r.master != nil {
		d.masterStore = r.master.env.store
		d.master = r.master.inner.Durable()
	}
	return d
}

// Recover recreates a replica with the default options after a crash.
func Recover(env paxi.Env, durable any) (paxi.Replica, error) {
	return RecoverWithOptions(env, durable, Options{})
}

// RecoverWithOptions recreates a replica after a crash from the state its
// predecessor's Durable returned; the store in env is the one it had
// applied up to that state.
func RecoverWithOptions(env paxi.Env, durable any, opts Options) (*VPaxos, error) {
	st, ok := durable.(durableState)
	if !ok {
		return nil, fmt.Errorf("vpaxos: restore from %T, want the state Durable returned", durable)
	}
	r, err := newReplica(env, opts, st.masterStore, st.master)
	if err != nil {
		return nil, err
	}
	for _, o := range st.objects {
		o.lead, o.queue, o.query, o.stale, o.lastStale = nil, nil, 0, false, 0
		for _, e := range o.log {
			if e != nil {
				e.hasReq, e.req = false, paxi.Request{}
			}
		}
	}
	r.objects, r.keys = st.objects, st.keys
	return r, nil
}
