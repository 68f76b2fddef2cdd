package paxos

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/ailidani/paxi-style/paxi"
)

// Hand-written msgpack encodings of the phase-2 messages, which carry every
// command: each is a fixed-length array, with no reflection. The other
// messages use msgpack's struct encoding.

func arrayLen(dec *msgpack.Decoder, what string, want int) error {
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("paxos: decode %s: array of %d elements, want %d", what, n, want)
	}
	return nil
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m P2a) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeArrayLen(3); err != nil {
		return err
	}
	if err := enc.EncodeUint64(uint64(m.Ballot)); err != nil {
		return err
	}
	if err := enc.EncodeInt(m.Slot); err != nil {
		return err
	}
	return paxi.EncodeCommands(enc, m.Commands)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *P2a) DecodeMsgpack(dec *msgpack.Decoder) (err error) {
	if err = arrayLen(dec, "P2a", 3); err != nil {
		return err
	}
	var b uint64
	if b, err = dec.DecodeUint64(); err != nil {
		return err
	}
	m.Ballot = paxi.Ballot(b)
	if m.Slot, err = dec.DecodeInt64(); err != nil {
		return err
	}
	m.Commands, err = paxi.DecodeCommands(dec)
	return err
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m P2b) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeArrayLen(2); err != nil {
		return err
	}
	if err := enc.EncodeUint64(uint64(m.Ballot)); err != nil {
		return err
	}
	return enc.EncodeInt(m.Slot)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *P2b) DecodeMsgpack(dec *msgpack.Decoder) (err error) {
	if err = arrayLen(dec, "P2b", 2); err != nil {
		return err
	}
	var b uint64
	if b, err = dec.DecodeUint64(); err != nil {
		return err
	}
	m.Ballot = paxi.Ballot(b)
	m.Slot, err = dec.DecodeInt64()
	return err
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m P3) EncodeMsgpack(enc *msgpack.Encoder) error {
	return P2a(m).EncodeMsgpack(enc)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *P3) DecodeMsgpack(dec *msgpack.Decoder) error {
	return (*P2a)(m).DecodeMsgpack(dec)
}
