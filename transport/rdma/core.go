package rdma

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
)

// This file is the backend-independent verbs core: what every backend
// checks and does the same way, whatever its clock and memory. A backend
// decides when (its scheduler) and where (its memory); the core decides
// whether and how.

// validateWR checks a work request for local misuse, at post time.
func validateWR(w WR, p Profile) error {
	switch w.Op {
	case Write, WriteImm, Send, Read:
	case CAS, FAA:
		if w.Local != nil && len(w.Local) != 8 {
			return fmt.Errorf("%w: %v: an atomic's Local must be nil or 8 bytes, not %d", ErrBadWR, w, len(w.Local))
		}
		if w.Inline {
			return fmt.Errorf("%w: %v: atomics carry no inline payload", ErrBadWR, w)
		}
	default:
		return fmt.Errorf("%w: %v: opcode %v cannot be posted", ErrBadWR, w, w.Op)
	}
	if w.Inline {
		if w.Op == Read {
			return fmt.Errorf("%w: %v: a READ cannot be inline", ErrBadWR, w)
		}
		if len(w.Local) > p.InlineMax {
			return fmt.Errorf("%w: %v: inline payload of %d bytes exceeds the profile's %d", ErrBadWR, w, len(w.Local), p.InlineMax)
		}
	}
	return nil
}

// carriesPayload reports whether the requester sends len(Local) bytes.
func carriesPayload(op Opcode) bool { return op == Write || op == WriteImm || op == Send }

// opLen is the number of remote bytes an operation touches.
func opLen(w WR) int {
	if w.Op.atomic() {
		return 8
	}
	return len(w.Local)
}

// checkRemote decides whether a one-sided operation may touch region
// (mem, mrAccess) through a responder queue pair with rights qpAccess:
// RemoteAccessErr for a missing region, an out-of-range address or a
// missing right, RemoteInvalidReq for a misaligned atomic. found is false
// when the key names no region.
func checkRemote(w WR, found bool, size int, mrAccess, qpAccess Access) Status {
	need := w.Op.needs()
	if need == 0 {
		return Success
	}
	n := uint64(opLen(w))
	if !found || w.RemoteAddr > uint64(size) || n > uint64(size)-w.RemoteAddr {
		return RemoteAccessErr
	}
	if !mrAccess.Has(need) || !qpAccess.Has(need) {
		return RemoteAccessErr
	}
	if w.Op.atomic() && w.RemoteAddr%8 != 0 {
		return RemoteInvalidReq
	}
	return Success
}

// span is a byte range [lo, hi) of a region.
type span struct{ lo, hi int }

// chunks splits the write of n bytes at off into the order its pieces land
// in: ChunkSize-aligned pieces in increasing address order, shuffled for
// RandomChunks, or one piece for Whole. Aligned 8-byte words never straddle
// two pieces, which is the single-copy atomicity of §10.2 item 5.
func chunks(off, n int, mode Placement, rng *rand.Rand) []span {
	if mode == Whole || n <= 0 {
		return []span{{off, off + n}}
	}
	var out []span
	for lo := off; lo < off+n; {
		hi := min((lo/ChunkSize+1)*ChunkSize, off+n)
		out = append(out, span{lo, hi})
		lo = hi
	}
	if mode == RandomChunks {
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	}
	return out
}

// atomicOp executes CAS or FAA on the little-endian word at word[0:8] and
// returns the old value.
func atomicOp(w WR, word []byte) uint64 {
	old := binary.LittleEndian.Uint64(word)
	switch w.Op {
	case CAS:
		if old == w.Compare {
			binary.LittleEndian.PutUint64(word, w.Swap)
		}
	case FAA:
		binary.LittleEndian.PutUint64(word, old+w.Add)
	default:
		panic(fmt.Sprintf("rdma: atomicOp on %v", w))
	}
	return old
}

// checkLocal panics for a local CPU access outside a region: a protocol
// bug, not an operating error.
func checkLocal(what string, rkey uint32, size, off, n int) {
	if off < 0 || n < 0 || off+n > size {
		panic(fmt.Sprintf("rdma: %s of %d bytes at %d outside region rkey=%d of %d bytes", what, n, off, rkey, size))
	}
}
