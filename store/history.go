package store

// keyHistory is one key's versions, laid out so that the garbage collector
// has nothing to scan in it: a benchmark writes millions of versions, and a
// []Version (two pointers each) made every GC cycle walk all of them. The
// values lie back to back in chunks that are never reallocated (so adding a
// version copies only its value); client ids are interned by the store.
type keyHistory struct {
	recs   []rec
	chunks [][]byte
}

// rec is one version without pointers.
type rec struct {
	version uint64
	command uint64
	chunk   uint32 // index in chunks
	off     uint32 // of the value in its chunk
	n       uint32 // length of the value
	client  uint32 // index in Store.clients
	deleted bool
}

// Chunk sizes: a key's first chunk is small, later ones double up to
// maxChunk, so that a thousand rarely written keys cost little and a hot key
// allocates rarely. A value larger than the next chunk gets a chunk of its
// own size.
const (
	firstChunk = 256
	maxChunk   = 64 << 10
)

// value is the value of r, shared with the history (read-only); a put of
// an empty value reads as an empty, non-nil slice and a delete as nil.
func (h *keyHistory) value(r rec) []byte {
	if r.deleted {
		return nil
	}
	if r.n == 0 {
		return []byte{}
	}
	// The full slice expression caps the result, so a caller that appends
	// to it cannot write over the next value.
	return h.chunks[r.chunk][r.off : r.off+r.n : r.off+r.n]
}

// add appends a version. A value is copied into a chunk: the caller's
// slice may be shared with the protocol's log.
func (h *keyHistory) add(v Version, client uint32) {
	r := rec{version: v.Version, command: v.CommandID, client: client, deleted: v.Deleted, n: uint32(len(v.Value))}
	if r.n > 0 {
		last := len(h.chunks) - 1
		if last < 0 || cap(h.chunks[last])-len(h.chunks[last]) < len(v.Value) {
			size := max(len(v.Value), min(firstChunk<<min(len(h.chunks), 16), maxChunk))
			h.chunks = append(h.chunks, make([]byte, 0, size))
			last++
		}
		r.chunk, r.off = uint32(last), uint32(len(h.chunks[last]))
		h.chunks[last] = append(h.chunks[last], v.Value...)
	}
	h.recs = append(h.recs, r)
}

// intern returns the index of client id c in s.clients, adding it if new.
// Index 0 is the empty id.
func (s *Store) intern(c string) uint32 {
	if c == "" {
		return 0
	}
	if i, ok := s.clientIndex[c]; ok {
		return i
	}
	i := uint32(len(s.clients))
	s.clients = append(s.clients, c)
	s.clientIndex[c] = i
	return i
}

// version rebuilds r as a Version with its own copy of the value.
func (s *Store) version(h *keyHistory, r rec) Version {
	v := Version{Version: r.version, Deleted: r.deleted, ClientID: s.clients[r.client], CommandID: r.command}
	if !r.deleted {
		v.Value = append([]byte{}, h.value(r)...)
	}
	return v
}
