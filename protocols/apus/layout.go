package apus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// Memory layout. Every replica registers the same two regions in the same
// order, so each knows its peers' keys (rdma.FirstRKey and the next one)
// and offsets without exchanging them:
//
//	log region (rkeyLog)
//	  [0,8)    end word     term<<40 | end     written by the leader of term (one-sided), or locally by a leader
//	  [8,16)   commit word  term<<40 | commit  written by the leader of term
//	  [16,24)  applied      entries applied here, written locally (the leader READs it to adjust)
//	  [64, ...) ring of Slots slots of SlotSize bytes; entry j lives in slot j mod Slots
//
//	control region (rkeyCtl), n = cluster size
//	  [0, 8n)  hb[i]: term<<40 | leader flag<<39 | counter, written by node i
//	  then one 64-byte record per node i, written only by node i:
//	    +0  ack word     term<<40 | end: i holds this leader's log up to end
//	    +8  applied      entries i applied (flow control of its ring)
//	    +16 grant        the term in which i gave this node write access to its log
//	    +24 vote ack     the term in which i voted for this node
//	    +32 vote request term, +40 last index, +48 last term, +56 check
//
// Words that pair a term with a value are one 8-byte word, so a reader
// never sees the term of one write with the value of another (only aligned
// words are single-copy atomic, PROTOCOLS.md §10.2 item 5).
const (
	rkeyLog = rdma.FirstRKey
	rkeyCtl = rdma.FirstRKey + 1

	offEnd     = 0
	offCommit  = 8
	offApplied = 16
	logHeader  = 64

	recSize     = 64
	recAck      = 0
	recApplied  = 8
	recGrant    = 16
	recVoteAck  = 24
	recVoteReq  = 32
	voteReqSize = 32

	valueBits = 40
	termMax   = 1 << 24
	hbLeader  = 1 << 39
)

// pack joins a term and a value into one word.
func pack(term uint64, v int64) uint64 {
	if term >= termMax || v < 0 || v >= 1<<valueBits {
		panic(fmt.Sprintf("apus: cannot pack term %d and value %d into a word", term, v))
	}
	return term<<valueBits | uint64(v)
}

// unpack splits a word made by pack.
func unpack(w uint64) (term uint64, v int64) {
	return w >> valueBits, int64(w & (1<<valueBits - 1))
}

// hbWord is a heartbeat: a leader's (with a counter that moves) or a
// node's answer to a stale leader (its term, no flag).
func hbWord(term uint64, leader bool, counter uint64) uint64 {
	w := term<<valueBits | counter&(hbLeader-1)
	if leader {
		w |= hbLeader
	}
	return w
}

func hbFields(w uint64) (term uint64, leader bool) {
	return w >> valueBits, w&hbLeader != 0
}

// ctlBase is the offset of the first per-node record in the control region.
func ctlBase(n int) int { return (8*n + recSize - 1) / recSize * recSize }

// ctlSize is the size of the control region of an n-node cluster.
func ctlSize(n int) int { return ctlBase(n) + n*recSize }

// voteReq is a candidate's request for votes, as written into every peer's
// control region.
type voteReq struct {
	Term, LastTerm uint64
	LastIndex      int64 // -1: empty log
}

func (v voteReq) String() string {
	return fmt.Sprintf("VoteRequest{term=%d last=%d@%d}", v.Term, v.LastIndex, v.LastTerm)
}

func (v voteReq) check() uint64 {
	return (v.Term*0x9e3779b97f4a7c15 ^ uint64(v.LastIndex+1)*0xbf58476d1ce4e5b9 ^ v.LastTerm*0x94d049bb133111eb) | 1
}

func (v voteReq) encode() []byte {
	b := make([]byte, voteReqSize)
	binary.LittleEndian.PutUint64(b[0:], v.Term)
	binary.LittleEndian.PutUint64(b[8:], uint64(v.LastIndex+1))
	binary.LittleEndian.PutUint64(b[16:], v.LastTerm)
	binary.LittleEndian.PutUint64(b[24:], v.check())
	return b
}

// decodeVoteReq reads a request; ok is false for an empty or torn record.
func decodeVoteReq(b []byte) (voteReq, bool) {
	v := voteReq{
		Term:      binary.LittleEndian.Uint64(b[0:]),
		LastIndex: int64(binary.LittleEndian.Uint64(b[8:])) - 1,
		LastTerm:  binary.LittleEndian.Uint64(b[16:]),
	}
	return v, v.Term != 0 && binary.LittleEndian.Uint64(b[24:]) == v.check()
}

// Entry layout in a slot:
//
//	[0,8) index  [8,16) term  [16,20) payload length  [20,24) zero
//	[24,32) checksum (FNV-1a of bytes [0,24) and the payload)
//	[32, 32+length) payload: the commands, msgpack
//
// The end pointer is what makes an entry visible: a follower never reads a
// slot at or past the end word the leader wrote after the entry, on the
// same queue pair (in-order placement). The checksum is the second line:
// it is verified on every read of a slot, and it is what exposes torn
// slots to anything that reads past the end (see TestTornSlotDetected).
const entryHeader = 32

// entry is one log entry: the commands ordered at index Index by the
// leader of Term (a NOOP entry has none).
type entry struct {
	Index int64
	Term  uint64
	Cmds  []paxi.Command
}

func (e entry) String() string {
	return fmt.Sprintf("Entry{%d@%d %s}", e.Index, e.Term, paxi.CommandsString(e.Cmds))
}

// errTorn is returned for a slot whose checksum does not match its bytes.
var errTorn = errors.New("apus: torn or empty slot")

func checksum(hdr, payload []byte) uint64 {
	h := fnv.New64a()
	h.Write(hdr)
	h.Write(payload)
	return h.Sum64() | 1 // never 0: a zeroed slot does not check
}

// encodeCommands is the payload of an entry.
func encodeCommands(cmds []paxi.Command) []byte {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	if err := paxi.EncodeCommands(enc, cmds); err != nil {
		panic(fmt.Sprintf("apus: encode commands: %v", err))
	}
	return buf.Bytes()
}

// encodeEntry returns the bytes of an entry as they are written in a slot.
func encodeEntry(e entry) []byte {
	payload := encodeCommands(e.Cmds)
	b := make([]byte, entryHeader+len(payload))
	binary.LittleEndian.PutUint64(b[0:], uint64(e.Index))
	binary.LittleEndian.PutUint64(b[8:], e.Term)
	binary.LittleEndian.PutUint32(b[16:], uint32(len(payload)))
	copy(b[entryHeader:], payload)
	binary.LittleEndian.PutUint64(b[24:], checksum(b[:24], payload))
	return b
}

// checkEntry verifies the entry at the start of slot without decoding its
// commands: its index and term, errTorn if its bytes do not check.
func checkEntry(slot []byte) (index int64, term uint64, payload []byte, err error) {
	if len(slot) < entryHeader {
		return 0, 0, nil, errTorn
	}
	n := int(binary.LittleEndian.Uint32(slot[16:]))
	if n > len(slot)-entryHeader {
		return 0, 0, nil, errTorn
	}
	payload = slot[entryHeader : entryHeader+n]
	if binary.LittleEndian.Uint64(slot[24:]) != checksum(slot[:24], payload) {
		return 0, 0, nil, errTorn
	}
	return int64(binary.LittleEndian.Uint64(slot[0:])), binary.LittleEndian.Uint64(slot[8:]), payload, nil
}

// decodeEntry reads the entry at the start of slot; errTorn if its bytes
// do not check.
func decodeEntry(slot []byte) (entry, error) {
	idx, term, payload, err := checkEntry(slot)
	if err != nil {
		return entry{}, err
	}
	e := entry{Index: idx, Term: term}
	cmds, err := paxi.DecodeCommands(msgpack.NewDecoder(bytes.NewReader(payload)))
	if err != nil {
		return entry{}, fmt.Errorf("apus: entry %d@%d checks but does not decode: %w", e.Index, e.Term, err)
	}
	e.Cmds = cmds
	return e, nil
}

// commandSize is how many payload bytes c adds to an entry.
func commandSize(c paxi.Command) int {
	return len(encodeCommands([]paxi.Command{c})) - 1 // minus the array header of one
}
