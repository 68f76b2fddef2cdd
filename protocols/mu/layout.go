package mu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/store"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// Memory layout. Every replica registers two regions, in this order, so
// that their keys are the same everywhere:
//
//	log (RKey logKey): the replication plane, writable by at most one peer
//	  [0,8)    minProposal  the highest proposal number a leader prepared here
//	  [8,16)   commit       the leader's first undecided index: every index below is decided
//	  [16,24)  applied      this replica's next index to apply (written by its CPU only)
//	  [64,...) Slots slots of SlotSize bytes; index i lives in slot i mod Slots
//
//	ctrl (RKey ctrlKey): the background plane, writable by every peer
//	  [0,8)              heartbeat counter, bumped by this replica's CPU every scan
//	  [64+8p, 72+8p)     permission request of peer p (its latest request number)
//	  [64+8n+8p, ...)    permission grant from peer p (the request number it granted)
//
// A slot holds
//
//	[0,8) index | [8,16) acceptedProposal | [16,24) fuo | [24,28) payload length |
//	[28,32) CRC-32C of the slot but this field and the trailer | payload, padded to 8 |
//	trailer: the index again (8 bytes, the last bytes written)
//
// Indices start at 1, so a zeroed slot is never a valid one, and a slot
// left from index i-Slots is told apart from index i by its index: the log
// need not be zeroed when it is recycled.
const (
	logKey  = rdma.FirstRKey
	ctrlKey = rdma.FirstRKey + 1

	offMinProposal = 0
	offCommit      = 8
	offApplied     = 16
	offSlots       = 64

	offHeartbeat = 0
	offRequests  = 64

	slotHeader   = 32
	slotOverhead = slotHeader + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// slot is one decoded log slot.
type slot struct {
	index    uint64
	proposal paxi.Ballot
	fuo      uint64 // the writer's first undecided index: every index below was decided
	cmd      paxi.Command
}

func (s slot) String() string {
	return fmt.Sprintf("slot{%d p=%v fuo=%d %v}", s.index, s.proposal, s.fuo, s.cmd)
}

// encodeSlot lays out s; the result's length is what a leader writes.
func encodeSlot(s slot) []byte {
	payload := encodeCommand(s.cmd)
	n := slotHeader + (len(payload)+7)/8*8
	b := make([]byte, n+8)
	binary.LittleEndian.PutUint64(b[0:], s.index)
	binary.LittleEndian.PutUint64(b[8:], uint64(s.proposal))
	binary.LittleEndian.PutUint64(b[16:], s.fuo)
	binary.LittleEndian.PutUint32(b[24:], uint32(len(payload)))
	copy(b[slotHeader:], payload)
	binary.LittleEndian.PutUint64(b[n:], s.index)
	binary.LittleEndian.PutUint32(b[28:], checksum(b[:n]))
	return b
}

// checksum is the CRC of a slot's bytes before the trailer, with the
// checksum field itself counted as zero.
func checksum(b []byte) uint32 {
	h := crc32.Update(0, castagnoli, b[:28])
	h = crc32.Update(h, castagnoli, []byte{0, 0, 0, 0})
	return crc32.Update(h, castagnoli, b[32:])
}

// slotState is what a reader makes of a slot's bytes.
type slotState int

const (
	slotAbsent slotState = iota // another index, or nothing yet
	slotTorn                    // the right index, but not all of it has landed
	slotValid
)

// readSlot inspects the bytes b of the slot where index want lives. With
// trust, a slot whose header and trailer carry the index is taken as
// whole (Mu's canary); otherwise the checksum must match too.
func readSlot(b []byte, want uint64, trust bool) (slot, slotState) {
	if binary.LittleEndian.Uint64(b) != want {
		return slot{}, slotAbsent
	}
	plen := int(binary.LittleEndian.Uint32(b[24:]))
	n := slotHeader + (plen+7)/8*8
	if plen < 0 || n+8 > len(b) || binary.LittleEndian.Uint64(b[n:]) != want {
		return slot{}, slotTorn
	}
	if !trust && binary.LittleEndian.Uint32(b[28:]) != checksum(b[:n]) {
		return slot{}, slotTorn
	}
	cmd, err := decodeCommand(b[slotHeader : slotHeader+plen])
	if err != nil {
		// A slot that passed the completeness check must decode: either the
		// check is unsound (TrustPlacement under random chunks) or the log
		// is corrupt.
		panic(fmt.Sprintf("mu: slot %d passed the completeness check but does not decode: %v", want, err))
	}
	return slot{index: want, proposal: paxi.Ballot(binary.LittleEndian.Uint64(b[8:])),
		fuo: binary.LittleEndian.Uint64(b[16:]), cmd: cmd}, slotValid
}

// encodeCommand is the payload of a slot: op | key | value | client id |
// command id, lengths little-endian.
func encodeCommand(c paxi.Command) []byte {
	b := make([]byte, 0, 1+2+len(c.Key)+4+len(c.Value)+2+len(c.ClientID)+8)
	b = append(b, byte(c.Op))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(c.Key)))
	b = append(b, c.Key...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(c.Value)))
	b = append(b, c.Value...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(c.ClientID)))
	b = append(b, c.ClientID...)
	return binary.LittleEndian.AppendUint64(b, c.CommandID)
}

var errShort = errors.New("payload too short")

func decodeCommand(b []byte) (paxi.Command, error) {
	var c paxi.Command
	take := func(n int) ([]byte, error) {
		if len(b) < n {
			return nil, errShort
		}
		p := b[:n]
		b = b[n:]
		return p, nil
	}
	op, err := take(1)
	if err != nil {
		return c, err
	}
	c.Op = store.Op(op[0])
	if c.Op != paxi.Get && c.Op != paxi.Put && c.Op != paxi.Delete && c.Op != paxi.Noop {
		return c, fmt.Errorf("unknown op %d", op[0])
	}
	str := func(lenBytes int) ([]byte, error) {
		l, err := take(lenBytes)
		if err != nil {
			return nil, err
		}
		n := int(binary.LittleEndian.Uint16(l))
		if lenBytes == 4 {
			n = int(binary.LittleEndian.Uint32(l))
		}
		return take(n)
	}
	k, err := str(2)
	if err != nil {
		return c, err
	}
	v, err := str(4)
	if err != nil {
		return c, err
	}
	cl, err := str(2)
	if err != nil {
		return c, err
	}
	id, err := take(8)
	if err != nil {
		return c, err
	}
	if len(b) != 0 {
		return c, fmt.Errorf("%d trailing bytes", len(b))
	}
	c.Key, c.ClientID, c.CommandID = string(k), string(cl), binary.LittleEndian.Uint64(id)
	if len(v) > 0 || c.Op == paxi.Put {
		c.Value = append([]byte{}, v...)
	}
	return c, nil
}
