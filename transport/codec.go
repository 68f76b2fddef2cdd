package transport

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"sync"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/ailidani/paxi-style/paxi"
)

// Codec turns messages into bytes and back. It is a registry of message
// types, each with a numeric code given by registration order, so that the
// wire carries a small integer instead of a type name, and decoding never
// uses reflection to look up names (the original Paxi relied on gob's
// global registry filled in init functions).
//
// An encoded message is the code as an unsigned varint followed by the
// msgpack encoding of the message. Every node of a cluster must build its
// Codec from the same list, in the same order: append new types at the end.
//
// A Codec is immutable after NewCodec and safe for concurrent use.
type Codec struct {
	types []reflect.Type
	codes map[reflect.Type]uint64
}

// maxDepth bounds the nesting of msgpack containers Unmarshal accepts. Real
// messages nest a few levels; the bound stops a frame of nested arrays from
// overflowing the decoder's stack.
const maxDepth = 64

// NewCodec returns a codec for paxi.Request (code 0), paxi.Reply (code 1) and
// then msgs in order (codes 2, 3, ...). Pass a zero value of each protocol
// message type (paxi.Protocol.Messages). A message type is registered exactly
// as given: register P2a{} and send P2a values, or register &P2a{} and send
// *P2a; the receiver gets the same type back.
//
// NewCodec panics on a nil message or a type listed twice (Request and Reply
// included): both are wiring bugs that would otherwise shift the codes of
// every later type.
func NewCodec(msgs ...paxi.Message) *Codec {
	c := &Codec{codes: make(map[reflect.Type]uint64, len(msgs)+2)}
	all := append([]paxi.Message{paxi.Request{}, paxi.Reply{}}, msgs...)
	for i, m := range all {
		if m == nil {
			panic(fmt.Sprintf("transport: NewCodec: message %d is nil", i-2))
		}
		t := reflect.TypeOf(m)
		if _, dup := c.codes[t]; dup {
			panic(fmt.Sprintf("transport: NewCodec: %v registered twice (paxi.Request and paxi.Reply are always registered; do not list them)", t))
		}
		c.codes[t] = uint64(len(c.types))
		c.types = append(c.types, t)
	}
	return c
}

// Registered reports whether m's type is registered.
func (c *Codec) Registered(m paxi.Message) bool {
	_, ok := c.codes[reflect.TypeOf(m)]
	return ok
}

// Marshal returns the encoding of m: its code and its msgpack body. The
// error wraps ErrUnregistered for a type not given to NewCodec.
func (c *Codec) Marshal(m paxi.Message) ([]byte, error) {
	e := encoderPool.Get().(*encoder)
	defer encoderPool.Put(e)
	return e.encodeCopy(c, nil, m)
}

// Unmarshal decodes a message encoded by Marshal. It returns the message as
// a value of its registered type (P2a, not *P2a, if P2a{} was registered), so
// the handlers registered with paxi.Handle for that type receive it.
//
// Any input, including an adversarial one, gives either a message or an
// error wrapping ErrBadMessage; Unmarshal never panics. Before decoding it
// checks the msgpack structure, so a forged length cannot make the decoder
// allocate more elements than there are input bytes. The result never
// aliases b, so the caller may reuse b.
func (c *Codec) Unmarshal(b []byte) (paxi.Message, error) {
	d := decoderPool.Get().(*decoder)
	defer decoderPool.Put(d)
	return d.decode(c, b)
}

// encoder is reusable encoding state: a msgpack.Encoder writing into an
// append buffer. A TCP writer goroutine keeps one; Marshal and the UDP
// sender take one from encoderPool.
type encoder struct {
	w       appendWriter
	enc     *msgpack.Encoder
	scratch []byte // reused by encodeCopy
}

var encoderPool = sync.Pool{New: func() any { return newEncoder() }}

func newEncoder() *encoder {
	e := &encoder{}
	e.enc = msgpack.NewEncoder(&e.w)
	// Small numbers (slots, command IDs, counts) take 1-5 bytes instead
	// of 9; any msgpack decoder reads either form.
	e.enc.UseCompactInts(true)
	return e
}

// encodeCopy returns prefix followed by the encoding of m, in a new slice
// of exactly that size, building it in the encoder's scratch buffer so
// that the only allocation is the result.
func (e *encoder) encodeCopy(c *Codec, prefix []byte, m paxi.Message) ([]byte, error) {
	b, err := e.encode(c, append(e.scratch[:0], prefix...), m)
	if err != nil {
		return nil, err
	}
	if cap(b) <= keepBuffer {
		e.scratch = b[:0]
	}
	return bytes.Clone(b), nil
}

// encode appends the encoding of m to dst and returns the extended slice.
// The result shares memory with dst and with the encoder's buffer: it is
// valid until the next call with the same encoder.
func (e *encoder) encode(c *Codec, dst []byte, m paxi.Message) (b []byte, err error) {
	code, ok := c.codes[reflect.TypeOf(m)]
	if !ok {
		return dst, fmt.Errorf("%w: %T", ErrUnregistered, m)
	}
	e.w.b = binary.AppendUvarint(dst, code)
	defer func() {
		// msgpack calls the message's own EncodeMsgpack methods, if any;
		// a panic there must not take down a transport goroutine.
		if r := recover(); r != nil {
			b, err = dst, fmt.Errorf("transport: encode %T: panic: %v", m, r)
		}
	}()
	if err := e.enc.Encode(m); err != nil {
		return dst, fmt.Errorf("transport: encode %T: %w", m, err)
	}
	b = e.w.b
	e.w.b = nil
	return b, nil
}

// appendWriter is an io.Writer and io.ByteWriter that appends to a slice, so
// the msgpack encoder writes straight into the frame being built.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

// decoder is reusable decoding state.
type decoder struct {
	r   bytes.Reader
	dec *msgpack.Decoder
}

var decoderPool = sync.Pool{New: func() any { return newDecoder() }}

func newDecoder() *decoder {
	d := &decoder{}
	d.dec = msgpack.NewDecoder(&d.r)
	return d
}

func (d *decoder) decode(c *Codec, b []byte) (m paxi.Message, err error) {
	code, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, fmt.Errorf("%w: %d bytes: no valid type code", ErrBadMessage, len(b))
	}
	if code >= uint64(len(c.types)) {
		return nil, fmt.Errorf("%w: unknown type code %d (the codec has %d types; do both ends register the same messages in the same order?)", ErrBadMessage, code, len(c.types))
	}
	t := c.types[code]
	body := b[n:]
	if err := checkMsgpack(body); err != nil {
		return nil, fmt.Errorf("%w: %v: %v", ErrBadMessage, t, err)
	}
	defer func() {
		// checkMsgpack rules out the known ways to crash the decoder; this
		// is the backstop for the unknown ones.
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("%w: %v: decoder panic: %v", ErrBadMessage, t, r)
		}
	}()
	v := reflect.New(t)
	d.r.Reset(body)
	d.dec.Reset(&d.r)
	if err := d.dec.DecodeValue(v.Elem()); err != nil {
		return nil, fmt.Errorf("%w: %v: %v", ErrBadMessage, t, err)
	}
	if d.r.Len() != 0 {
		return nil, fmt.Errorf("%w: %v: %d trailing bytes", ErrBadMessage, t, d.r.Len())
	}
	if e := v.Elem(); e.Kind() == reflect.Pointer && e.IsNil() {
		// A registered pointer type decoded from msgpack nil.
		return nil, fmt.Errorf("%w: %v: nil message", ErrBadMessage, t)
	}
	m = v.Elem().Interface().(paxi.Message) // t implements it: NewCodec got one
	return m, nil
}

// checkMsgpack checks that b is exactly one well-formed msgpack value whose
// declared lengths fit in b, nested at most maxDepth deep.
//
// It exists because msgpack/v5 trusts declared lengths: an array header
// claiming 2^32 elements makes it allocate the whole slice up front (its
// allocation limit is disabled for reflect-decoded slices), and a bin32
// header likewise, which for 5 bytes of garbage is an out-of-memory crash
// that recover cannot catch. After this check every container has at most as
// many elements as there are remaining input bytes.
func checkMsgpack(b []byte) error {
	// left[i] is the number of values still to read at depth i.
	left := make([]int, 1, 8)
	left[0] = 1
	p := 0
	for len(left) > 0 {
		if left[len(left)-1] == 0 {
			left = left[:len(left)-1]
			continue
		}
		left[len(left)-1]--
		if p >= len(b) {
			return fmt.Errorf("truncated msgpack at byte %d", p)
		}
		c := b[p]
		p++
		var skip, elems int // bytes of payload to skip, child values to read
		switch {
		case c <= 0x7f || c >= 0xe0: // fixint
		case c <= 0x8f: // fixmap
			elems = 2 * int(c&0x0f)
		case c <= 0x9f: // fixarray
			elems = int(c & 0x0f)
		case c <= 0xbf: // fixstr
			skip = int(c & 0x1f)
		default:
			var n int
			var err error
			switch c {
			case 0xc0, 0xc2, 0xc3: // nil, false, true
			case 0xc4, 0xd9: // bin8, str8
				n, p, err = readLen(b, p, 1)
				skip = n
			case 0xc5, 0xda: // bin16, str16
				n, p, err = readLen(b, p, 2)
				skip = n
			case 0xc6, 0xdb: // bin32, str32
				n, p, err = readLen(b, p, 4)
				skip = n
			case 0xc7: // ext8
				n, p, err = readLen(b, p, 1)
				skip = n + 1
			case 0xc8: // ext16
				n, p, err = readLen(b, p, 2)
				skip = n + 1
			case 0xc9: // ext32
				n, p, err = readLen(b, p, 4)
				skip = n + 1
			case 0xca, 0xce, 0xd2: // float32, uint32, int32
				skip = 4
			case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
				skip = 8
			case 0xcc, 0xd0: // uint8, int8
				skip = 1
			case 0xcd, 0xd1: // uint16, int16
				skip = 2
			case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16
				skip = 1 + 1<<(c-0xd4)
			case 0xdc: // array16
				elems, p, err = readLen(b, p, 2)
			case 0xdd: // array32
				elems, p, err = readLen(b, p, 4)
			case 0xde: // map16
				n, p, err = readLen(b, p, 2)
				elems = 2 * n
			case 0xdf: // map32
				n, p, err = readLen(b, p, 4)
				elems = 2 * n
			default: // 0xc1 is never used
				return fmt.Errorf("invalid msgpack code 0x%02x at byte %d", c, p-1)
			}
			if err != nil {
				return err
			}
		}
		if skip > len(b)-p {
			return fmt.Errorf("msgpack value at byte %d claims %d bytes, %d left", p, skip, len(b)-p)
		}
		p += skip
		if elems > 0 {
			if elems > len(b)-p {
				return fmt.Errorf("msgpack container at byte %d claims %d elements, %d bytes left", p, elems, len(b)-p)
			}
			if len(left) >= maxDepth {
				return fmt.Errorf("msgpack nested deeper than %d", maxDepth)
			}
			left = append(left, elems)
		}
	}
	if p != len(b) {
		return fmt.Errorf("%d trailing bytes after the msgpack value", len(b)-p)
	}
	return nil
}

// readLen reads a big-endian length of size bytes at b[p:].
func readLen(b []byte, p, size int) (n, next int, err error) {
	if len(b)-p < size {
		return 0, p, fmt.Errorf("truncated msgpack length at byte %d", p)
	}
	var v uint64
	for _, x := range b[p : p+size] {
		v = v<<8 | uint64(x)
	}
	if v > uint64(len(b)) {
		// Larger than the whole input: certainly wrong, and kept small
		// enough that 2*v and n+1 cannot overflow an int.
		return 0, p, fmt.Errorf("msgpack length %d at byte %d exceeds the %d-byte input", v, p, len(b))
	}
	return int(v), p + size, nil
}
