package wpaxos

import (
	"fmt"

	"github.com/ailidani/paxi-style/paxi"
)

// durableState is what a WPaxos node keeps on stable storage: each
// object's Paxos durable state (promise, accepted log, applied prefix).
// Ownership hints, waiting requests and policy counters are lost in a
// crash; the node finds its objects again through phase 1.
type durableState struct {
	objects map[string]any
}

// Durable implements paxi.Durable.
func (w *WPaxos) Durable() any {
	st := durableState{objects: make(map[string]any, len(w.objects))}
	for k, in := range w.objects {
		st.objects[k] = in.p.Durable()
	}
	return st
}

// Recover recreates a WPaxos node after a crash from its durable state; the
// store in env is the one it had applied up to that state.
func Recover(env paxi.Env, durable any) (paxi.Replica, error) {
	st, ok := durable.(durableState)
	if !ok {
		return nil, fmt.Errorf("wpaxos: recover from %T, want the state Durable returned", durable)
	}
	w, err := newWPaxos(env)
	if err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(st.objects) {
		in := w.object(k)
		if err := in.p.Restore(st.objects[k]); err != nil {
			return nil, fmt.Errorf("wpaxos: object %q: %w", k, err)
		}
	}
	return w, nil
}

var _ paxi.Durable = (*WPaxos)(nil)
