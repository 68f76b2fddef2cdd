package vpaxos

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/ailidani/paxi-style/paxi"
)

// Hand-written msgpack encodings of the phase-2 messages, which every
// command travels in: each is a fixed-length array, with no reflection and
// no field names on the wire. The other messages use msgpack's struct
// encoding.

func arrayLen(dec *msgpack.Decoder, what string, want int) error {
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("vpaxos: decode %s: array of %d elements, want %d", what, n, want)
	}
	return nil
}

// encodeSlotMsg writes the fields P2a and P3 share.
func encodeSlotMsg(enc *msgpack.Encoder, key string, b paxi.Ballot, slot int64, c paxi.Command) error {
	if err := enc.EncodeArrayLen(4); err != nil {
		return err
	}
	if err := enc.EncodeString(key); err != nil {
		return err
	}
	if err := enc.EncodeUint64(uint64(b)); err != nil {
		return err
	}
	if err := enc.EncodeInt(slot); err != nil {
		return err
	}
	return paxi.EncodeCommand(enc, c)
}

func decodeSlotMsg(dec *msgpack.Decoder, what string, key *string, b *paxi.Ballot, slot *int64, c *paxi.Command) (err error) {
	if err = arrayLen(dec, what, 4); err != nil {
		return err
	}
	if *key, err = dec.DecodeString(); err != nil {
		return err
	}
	var u uint64
	if u, err = dec.DecodeUint64(); err != nil {
		return err
	}
	*b = paxi.Ballot(u)
	if *slot, err = dec.DecodeInt64(); err != nil {
		return err
	}
	return paxi.DecodeCommand(dec, c)
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m P2a) EncodeMsgpack(enc *msgpack.Encoder) error {
	return encodeSlotMsg(enc, m.Key, m.Ballot, m.Slot, m.Command)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *P2a) DecodeMsgpack(dec *msgpack.Decoder) error {
	return decodeSlotMsg(dec, "P2a", &m.Key, &m.Ballot, &m.Slot, &m.Command)
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m P3) EncodeMsgpack(enc *msgpack.Encoder) error {
	return encodeSlotMsg(enc, m.Key, m.Ballot, m.Slot, m.Command)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *P3) DecodeMsgpack(dec *msgpack.Decoder) error {
	return decodeSlotMsg(dec, "P3", &m.Key, &m.Ballot, &m.Slot, &m.Command)
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m P2b) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeArrayLen(3); err != nil {
		return err
	}
	if err := enc.EncodeString(m.Key); err != nil {
		return err
	}
	if err := enc.EncodeUint64(uint64(m.Ballot)); err != nil {
		return err
	}
	return enc.EncodeInt(m.Slot)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *P2b) DecodeMsgpack(dec *msgpack.Decoder) (err error) {
	if err = arrayLen(dec, "P2b", 3); err != nil {
		return err
	}
	if m.Key, err = dec.DecodeString(); err != nil {
		return err
	}
	var u uint64
	if u, err = dec.DecodeUint64(); err != nil {
		return err
	}
	m.Ballot = paxi.Ballot(u)
	m.Slot, err = dec.DecodeInt64()
	return err
}
