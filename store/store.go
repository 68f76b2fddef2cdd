package store

import (
	"fmt"
	"sort"
)

// SessionWindow is how many of each client's most recent writes a store
// remembers for deduplication. Clients such as the original Paxi benchmark
// issue many commands concurrently under one client id, so ids may be applied
// out of order: the store keeps the set of recent ids, not a high-water mark.
const SessionWindow = 1024

// Deduplication rules, chosen so that a client that misuses ids can never be
// handed a stale answer:
//   - only writes (Put, Delete) are deduplicated; a read is always executed
//     afresh, since executing it twice is harmless and a cached answer could
//     be stale;
//   - a write is a duplicate only if its client id, command id, operation,
//     key and value all match a recent write: the original Paxi client
//     reuses command ids across concurrent requests and across runs, and
//     those are different commands.

// Version is one entry of a key's history.
type Version struct {
	// Version numbers the writes of a key from 1.
	Version uint64 `json:"version"`
	// Value is the value written (nil for a delete).
	Value []byte `json:"value"`
	// Deleted marks a delete.
	Deleted bool `json:"deleted,omitempty"`
	// ClientID and CommandID name the command that wrote this version.
	ClientID  string `json:"client_id,omitempty"`
	CommandID uint64 `json:"command_id,omitempty"`
}

// session remembers the results of a client's recent writes.
type session struct {
	results map[uint64]remembered
	order   []uint64 // FIFO of ids in results, oldest first
}

// remembered is the result of a write and a fingerprint of the write.
type remembered struct {
	result Result
	sum    uint64
}

// fingerprint hashes what a command does, to tell a retry from a different
// command that reuses an id.
func fingerprint(c Command) uint64 {
	// FNV-1a, written out: hash/fnv's interface and the string-to-bytes
	// conversion cost an allocation on every write.
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	h = (h ^ uint64(c.Op)) * prime
	for i := 0; i < len(c.Key); i++ {
		h = (h ^ uint64(c.Key[i])) * prime
	}
	h *= prime // the 0 separator: h ^ 0 == h
	for _, b := range c.Value {
		h = (h ^ uint64(b)) * prime
	}
	return h
}

// Store is a multi-version key-value store with client sessions. The zero
// value is not usable; call New.
type Store struct {
	keys     map[string]*keyHistory
	sessions map[string]*session
	// clients interns the client ids of versions (index 0 is "").
	clients     []string
	clientIndex map[string]uint32
	applied     uint64
	onApply     func(Command, Result) // see OnApply; nil: nobody listens
}

// New returns an empty store.
func New() *Store {
	return &Store{keys: make(map[string]*keyHistory), sessions: make(map[string]*session),
		clients: []string{""}, clientIndex: make(map[string]uint32)}
}

// Apply applies a command and returns its result. A write with a non-empty
// ClientID that repeats a recent write of that client (same command id, same
// operation, key and value) is not applied again: the recorded result is
// returned with Duplicate set.
func (s *Store) Apply(c Command) Result {
	var sess *session
	var sum uint64
	if c.ClientID != "" && c.Op.IsWrite() {
		sess = s.sessions[c.ClientID]
		if sess == nil {
			sess = &session{results: make(map[uint64]remembered)}
			s.sessions[c.ClientID] = sess
		}
		sum = fingerprint(c)
		if r, ok := sess.results[c.CommandID]; ok && r.sum == sum {
			r.result.Duplicate = true
			return r.result
		}
	}
	s.applied++
	var r Result
	switch c.Op {
	case Get:
		r = s.read(c.Key)
	case Put, Delete:
		r = s.read(c.Key)
		h := s.keys[c.Key]
		if h == nil {
			h = &keyHistory{}
			s.keys[c.Key] = h
		}
		v := Version{Version: r.Version + 1, Deleted: c.Op == Delete, CommandID: c.CommandID}
		if c.Op == Put {
			v.Value = c.Value // add copies it
		}
		h.add(v, s.intern(c.ClientID))
		r.Version = v.Version
	case Noop:
		return Result{}
	default:
		panic(fmt.Sprintf("store: apply of unknown op %d in %v", c.Op, c))
	}
	if sess != nil {
		if _, reused := sess.results[c.CommandID]; !reused {
			sess.order = append(sess.order, c.CommandID)
		}
		sess.results[c.CommandID] = remembered{result: r, sum: sum}
		if len(sess.order) > SessionWindow {
			delete(sess.results, sess.order[0])
			sess.order = sess.order[1:]
		}
	}
	if s.onApply != nil {
		s.onApply(c, r)
	}
	return r
}

// OnApply makes the store call f after every command it executes, in
// execution order, on the goroutine that called Apply, with the command and
// its result; nil stops the calls. Duplicates and no-ops are not executed,
// so f does not see them, and Restore does not replay the commands behind a
// snapshot. Because every replica executes the same commands in the same
// order, f sees the same sequence on every replica: package smr feeds it to
// a local copy of an external server program. f must not block (it runs
// inside the replica's step) and must not keep c.Value beyond the call if
// it may change it: the value is shared with the protocol's log.
func (s *Store) OnApply(f func(Command, Result)) { s.onApply = f }

func (s *Store) read(key string) Result {
	h := s.keys[key]
	if h == nil || len(h.recs) == 0 {
		return Result{}
	}
	last := h.recs[len(h.recs)-1]
	return Result{Value: h.value(last), Found: !last.deleted, Version: last.version}
}

// Get returns the current value of key and whether it has one, without
// recording anything.
func (s *Store) Get(key string) ([]byte, bool) {
	r := s.read(key)
	return r.Value, r.Found
}

// History returns a copy of the versions of key, oldest first.
func (s *Store) History(key string) []Version {
	h := s.keys[key]
	if h == nil {
		return []Version{}
	}
	out := make([]Version, len(h.recs))
	for i, r := range h.recs {
		out[i] = s.version(h, r)
	}
	return out
}

// Keys returns every key that was ever written, sorted.
func (s *Store) Keys() []string {
	out := make([]string, 0, len(s.keys))
	for k := range s.keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Applied returns how many commands changed or read the store (duplicates and
// no-ops excluded).
func (s *Store) Applied() uint64 { return s.applied }
