package paxi

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// Hand-written msgpack encodings of the messages on every request's path.
// msgpack's reflection-based struct codec was a tenth of a leader's CPU
// under load; these write each message as a fixed-length array, with no
// reflection and no field names on the wire. Protocols use EncodeCommands
// and DecodeCommands for the command batches inside their own messages.

// wireError is returned when a message does not have the expected shape.
func wireError(what string, n, want int) error {
	return fmt.Errorf("paxi: decode %s: array of %d elements, want %d", what, n, want)
}

// EncodeCommand writes c as a 5-element array.
func EncodeCommand(enc *msgpack.Encoder, c Command) error {
	if err := enc.EncodeArrayLen(5); err != nil {
		return err
	}
	if err := enc.EncodeUint8(uint8(c.Op)); err != nil {
		return err
	}
	if err := enc.EncodeString(c.Key); err != nil {
		return err
	}
	if err := enc.EncodeBytes(c.Value); err != nil {
		return err
	}
	if err := enc.EncodeString(c.ClientID); err != nil {
		return err
	}
	return enc.EncodeUint64(c.CommandID)
}

// DecodeCommand reads a command written by EncodeCommand.
func DecodeCommand(dec *msgpack.Decoder, c *Command) error {
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	if n != 5 {
		return wireError("command", n, 5)
	}
	op, err := dec.DecodeUint8()
	if err != nil {
		return err
	}
	c.Op = Op(op)
	if c.Key, err = dec.DecodeString(); err != nil {
		return err
	}
	if c.Value, err = dec.DecodeBytes(); err != nil {
		return err
	}
	if c.ClientID, err = dec.DecodeString(); err != nil {
		return err
	}
	c.CommandID, err = dec.DecodeUint64()
	return err
}

// EncodeCommands writes a batch of commands as an array.
func EncodeCommands(enc *msgpack.Encoder, cs []Command) error {
	if err := enc.EncodeArrayLen(len(cs)); err != nil {
		return err
	}
	for _, c := range cs {
		if err := EncodeCommand(enc, c); err != nil {
			return err
		}
	}
	return nil
}

// DecodeCommands reads a batch written by EncodeCommands (nil for an empty
// or nil batch).
func DecodeCommands(dec *msgpack.Decoder) ([]Command, error) {
	n, err := dec.DecodeArrayLen()
	if err != nil || n <= 0 {
		return nil, err
	}
	// The transport has checked that no array claims more elements than
	// there are bytes left; the cap guards other callers.
	cs := make([]Command, 0, min(n, 4096))
	for range n {
		var c Command
		if err := DecodeCommand(dec, &c); err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (r Request) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeArrayLen(3); err != nil {
		return err
	}
	if err := EncodeCommand(enc, r.Command); err != nil {
		return err
	}
	if err := enc.EncodeUint32(uint32(r.Node)); err != nil {
		return err
	}
	return enc.EncodeUint64(r.Handle)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (r *Request) DecodeMsgpack(dec *msgpack.Decoder) error {
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	if n != 3 {
		return wireError("Request", n, 3)
	}
	if err := DecodeCommand(dec, &r.Command); err != nil {
		return err
	}
	node, err := dec.DecodeUint32()
	if err != nil {
		return err
	}
	r.Node = ID(node)
	r.Handle, err = dec.DecodeUint64()
	return err
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (r Reply) EncodeMsgpack(enc *msgpack.Encoder) error {
	// The calls run in order, and the first error is returned.
	errs := [...]error{
		enc.EncodeArrayLen(11),
		enc.EncodeUint32(uint32(r.Node)),
		enc.EncodeUint64(r.Handle),
		enc.EncodeString(r.ClientID),
		enc.EncodeUint64(r.CommandID),
		enc.EncodeBytes(r.Result.Value),
		enc.EncodeBool(r.Result.Found),
		enc.EncodeUint64(r.Result.Version),
		enc.EncodeBool(r.Result.Duplicate),
		enc.EncodeInt(r.Slot),
		enc.EncodeUint64(uint64(r.Ballot)),
		enc.EncodeString(r.Err),
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (r *Reply) DecodeMsgpack(dec *msgpack.Decoder) error {
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	if n != 11 {
		return wireError("Reply", n, 11)
	}
	node, err := dec.DecodeUint32()
	if err != nil {
		return err
	}
	r.Node = ID(node)
	if r.Handle, err = dec.DecodeUint64(); err != nil {
		return err
	}
	if r.ClientID, err = dec.DecodeString(); err != nil {
		return err
	}
	if r.CommandID, err = dec.DecodeUint64(); err != nil {
		return err
	}
	if r.Result.Value, err = dec.DecodeBytes(); err != nil {
		return err
	}
	if r.Result.Found, err = dec.DecodeBool(); err != nil {
		return err
	}
	if r.Result.Version, err = dec.DecodeUint64(); err != nil {
		return err
	}
	if r.Result.Duplicate, err = dec.DecodeBool(); err != nil {
		return err
	}
	if r.Slot, err = dec.DecodeInt64(); err != nil {
		return err
	}
	b, err := dec.DecodeUint64()
	if err != nil {
		return err
	}
	r.Ballot = Ballot(b)
	r.Err, err = dec.DecodeString()
	return err
}
