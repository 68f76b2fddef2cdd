package wpaxos

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/ailidani/paxi-style/paxi"
)

// Hand-written msgpack encodings of the messages on every request's path
// (Forward, Accept, Accepted, Commit): fixed-length arrays around the
// payload's own encoding, with no reflection. The others use msgpack's
// struct encoding.

func arrayLen(dec *msgpack.Decoder, what string, want int) error {
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("wpaxos: decode %s: array of %d elements, want %d", what, n, want)
	}
	return nil
}

// keyed writes [key, payload].
func keyed(enc *msgpack.Encoder, key string, payload msgpack.CustomEncoder) error {
	if err := enc.EncodeArrayLen(2); err != nil {
		return err
	}
	if err := enc.EncodeString(key); err != nil {
		return err
	}
	return payload.EncodeMsgpack(enc)
}

// unkeyed reads [key, payload] written by keyed.
func unkeyed(dec *msgpack.Decoder, what string, key *string, payload msgpack.CustomDecoder) (err error) {
	if err = arrayLen(dec, what, 2); err != nil {
		return err
	}
	if *key, err = dec.DecodeString(); err != nil {
		return err
	}
	return payload.DecodeMsgpack(dec)
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Accept) EncodeMsgpack(enc *msgpack.Encoder) error { return keyed(enc, m.Key, m.P2a) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Accept) DecodeMsgpack(dec *msgpack.Decoder) error {
	return unkeyed(dec, "Accept", &m.Key, &m.P2a)
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Accepted) EncodeMsgpack(enc *msgpack.Encoder) error { return keyed(enc, m.Key, m.P2b) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Accepted) DecodeMsgpack(dec *msgpack.Decoder) error {
	return unkeyed(dec, "Accepted", &m.Key, &m.P2b)
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Commit) EncodeMsgpack(enc *msgpack.Encoder) error { return keyed(enc, m.Key, m.P3) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Commit) DecodeMsgpack(dec *msgpack.Decoder) error {
	return unkeyed(dec, "Commit", &m.Key, &m.P3)
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Forward) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeArrayLen(3); err != nil {
		return err
	}
	if err := enc.EncodeUint64(uint64(m.Ballot)); err != nil {
		return err
	}
	if err := enc.EncodeInt(int64(m.Hops)); err != nil {
		return err
	}
	return m.Request.EncodeMsgpack(enc)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Forward) DecodeMsgpack(dec *msgpack.Decoder) (err error) {
	if err = arrayLen(dec, "Forward", 3); err != nil {
		return err
	}
	var b uint64
	if b, err = dec.DecodeUint64(); err != nil {
		return err
	}
	m.Ballot = paxi.Ballot(b)
	if m.Hops, err = dec.DecodeInt(); err != nil {
		return err
	}
	return m.Request.DecodeMsgpack(dec)
}
