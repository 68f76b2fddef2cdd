package wankeeper

import (
	"fmt"

	"github.com/ailidani/paxi-style/paxi"
)

// Durable implements paxi.Durable: a node keeps its promise, every zone log
// as far as it knows it, and what it derived from applying them (the token
// table, the holdings, how far every key is applied); the store holds the
// applied commands. Leadership, the master's queues and throttles, requests
// waiting here and timers are lost in a crash. The replica is discarded
// after a crash, so it hands over its state instead of copying it.
func (w *WanKeeper) Durable() any { return w.k }

// Recover recreates a replica with the default options after a crash.
func Recover(env paxi.Env, durable any) (paxi.Replica, error) {
	return RecoverWithOptions(env, Options{}, durable)
}

// RecoverWithOptions recreates a replica after a crash from the state its
// predecessor's Durable returned; the store in env is the one it had
// applied up to that state.
func RecoverWithOptions(env paxi.Env, opts Options, durable any) (paxi.Replica, error) {
	k, ok := durable.(*knowledge)
	if !ok {
		return nil, fmt.Errorf("wankeeper: recover from %T, want the state Durable returned", durable)
	}
	w, err := NewWithOptions(env, opts)
	if err != nil {
		return nil, err
	}
	for _, z := range w.zones {
		if k.logs[z] == nil {
			return nil, fmt.Errorf("wankeeper: recover: durable state has no log for zone %d", z)
		}
	}
	w.k = k
	for _, z := range w.zones {
		w.exec(z)
	}
	return w, nil
}
