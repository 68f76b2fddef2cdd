package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
)

// Snapshot is a self-contained copy of a store: every key's history and the
// client sessions. It marshals to JSON deterministically (keys sorted).
type Snapshot struct {
	Keys     []KeyHistory     `json:"keys"`
	Sessions []SessionResults `json:"sessions"`
	Applied  uint64           `json:"applied"`
}

// KeyHistory is one key and its versions, oldest first.
type KeyHistory struct {
	Key      string    `json:"key"`
	Versions []Version `json:"versions"`
}

// SessionResults is one client's remembered command results, oldest first.
type SessionResults struct {
	ClientID string          `json:"client_id"`
	Commands []SessionResult `json:"commands"`
}

// SessionResult is one remembered write: its result and the fingerprint of
// the command that produced it.
type SessionResult struct {
	CommandID   uint64 `json:"command_id"`
	Fingerprint uint64 `json:"fingerprint"`
	Result      Result `json:"result"`
}

// Snapshot returns a deep copy of the whole store.
func (s *Store) Snapshot() Snapshot {
	snap := Snapshot{Applied: s.applied}
	for _, k := range s.Keys() {
		snap.Keys = append(snap.Keys, KeyHistory{Key: k, Versions: s.History(k)})
	}
	clients := make([]string, 0, len(s.sessions))
	for c := range s.sessions {
		clients = append(clients, c)
	}
	sort.Strings(clients)
	for _, c := range clients {
		sess := s.sessions[c]
		sr := SessionResults{ClientID: c}
		for _, id := range sess.order {
			r := sess.results[id]
			res := r.result
			res.Value = slices.Clone(res.Value)
			sr.Commands = append(sr.Commands, SessionResult{CommandID: id, Fingerprint: r.sum, Result: res})
		}
		snap.Sessions = append(snap.Sessions, sr)
	}
	return snap
}

// Restore replaces the store's contents with a snapshot. It rejects a
// snapshot that repeats a key or client, or whose versions are not numbered
// 1, 2, 3, ...
func (s *Store) Restore(snap Snapshot) error {
	fresh := New()
	keys := fresh.keys
	for _, kh := range snap.Keys {
		if _, dup := keys[kh.Key]; dup {
			return fmt.Errorf("store: restore: key %q appears twice", kh.Key)
		}
		h := &keyHistory{}
		for i, v := range kh.Versions {
			if v.Version != uint64(i+1) {
				return fmt.Errorf("store: restore: key %q: version %d at position %d, want %d", kh.Key, v.Version, i, i+1)
			}
			h.add(v, fresh.intern(v.ClientID))
		}
		keys[kh.Key] = h
	}
	sessions := make(map[string]*session, len(snap.Sessions))
	for _, sr := range snap.Sessions {
		if _, dup := sessions[sr.ClientID]; dup {
			return fmt.Errorf("store: restore: client %q appears twice", sr.ClientID)
		}
		sess := &session{results: make(map[uint64]remembered, len(sr.Commands))}
		for _, c := range sr.Commands {
			if _, dup := sess.results[c.CommandID]; dup {
				return fmt.Errorf("store: restore: client %q: command %d appears twice", sr.ClientID, c.CommandID)
			}
			r := c.Result
			r.Value = slices.Clone(r.Value)
			sess.results[c.CommandID] = remembered{result: r, sum: c.Fingerprint}
			sess.order = append(sess.order, c.CommandID)
		}
		sessions[sr.ClientID] = sess
	}
	s.keys, s.sessions, s.applied = keys, sessions, snap.Applied
	s.clients, s.clientIndex = fresh.clients, fresh.clientIndex
	return nil
}

// MarshalBinary encodes the store's snapshot.
func (s *Store) MarshalBinary() ([]byte, error) { return json.Marshal(s.Snapshot()) }

// UnmarshalBinary restores the store from bytes made by MarshalBinary.
func (s *Store) UnmarshalBinary(b []byte) error {
	var snap Snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return fmt.Errorf("store: decode snapshot: %w", err)
	}
	if s.keys == nil {
		*s = *New()
	}
	return s.Restore(snap)
}
