package native

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/ailidani/paxi-style/paxi"
)

// Request is one command on the wire, from a client to a server. It is
// encoded as a msgpack array of six values, in this order:
//
//	[ID uint, Op uint, Key str, Value bin|nil, ClientID str, CommandID uint]
//
// An array rather than a map keeps field names off the wire and lets the
// hand-written decoder read fields in a fixed order without a lookup.
type Request struct {
	// ID names the request on its connection; the response echoes it. The
	// client chooses it, unique among its requests in flight.
	ID uint64
	// Op is paxi.Get, paxi.Put or paxi.Delete (0, 1, 2).
	Op paxi.Op
	// Key follows client.ValidKey.
	Key string
	// Value is the value of a Put; nil otherwise.
	Value []byte
	// ClientID and CommandID identify the command for deduplication, as
	// the REST headers Id and Cid do: a write retried with both the same is
	// executed once.
	ClientID  string
	CommandID uint64
}

// Response answers a Request. It is encoded as a msgpack array of six
// values, in this order:
//
//	[ID uint, Value bin|nil, Found bool, Version uint, Slot int, Err str]
type Response struct {
	// ID is the ID of the Request answered.
	ID uint64
	// Value is the value read, or the previous value for a write.
	Value []byte
	// Found reports whether Value is a value of the key.
	Found bool
	// Version is the key's version after the command.
	Version uint64
	// Slot is the log position that ordered the command (-1 if none).
	Slot int64
	// Err is non-empty if the request was rejected or not executed; the
	// other fields are then meaningless.
	Err string
}

// fields is the number of values in an encoded Request or Response.
const fields = 6

// Frame sizes. A frame is a 4-byte big-endian body length followed by the
// body, one msgpack-encoded Request or Response.
const (
	// HeaderSize is the size of a frame's length prefix.
	HeaderSize = 4
	// frameOverhead bounds everything in a request frame but its value: a
	// key of client.MaxKeyLen, a client id of maxClientID and the numbers.
	frameOverhead = 1024
	// maxClientID is the longest client id accepted, as in the REST API's
	// Id header.
	maxClientID = 128
	// hardFrameLimit is the largest frame length a server reads and
	// discards to answer "too large" rather than closing the connection;
	// above it the length is taken for garbage.
	hardFrameLimit = 256 << 20
	// DefaultMaxResponseFrame is the largest response frame a client
	// accepts unless told otherwise: well above any value a server built on
	// the default configuration stores (1 MiB).
	DefaultMaxResponseFrame = 64 << 20
)

// ErrBadFrame is wrapped by every decoding error: a body that is not a
// well-formed Request or Response.
var ErrBadFrame = errors.New("native: bad frame")

// EncodeMsgpack writes r as a six-element msgpack array. It implements
// msgpack.CustomEncoder, so msgpack.Marshal(&r) uses it without reflection
// over the fields.
func (r *Request) EncodeMsgpack(e *msgpack.Encoder) error {
	if err := e.EncodeArrayLen(fields); err != nil {
		return err
	}
	if err := e.EncodeUint(r.ID); err != nil {
		return err
	}
	if err := e.EncodeUint(uint64(r.Op)); err != nil {
		return err
	}
	if err := e.EncodeString(r.Key); err != nil {
		return err
	}
	if err := e.EncodeBytes(r.Value); err != nil {
		return err
	}
	if err := e.EncodeString(r.ClientID); err != nil {
		return err
	}
	return e.EncodeUint(r.CommandID)
}

// DecodeMsgpack reads r as written by EncodeMsgpack. It implements
// msgpack.CustomDecoder. It is safe on hostile input: a declared length
// makes it allocate no more than about twice the bytes actually present.
func (r *Request) DecodeMsgpack(d *msgpack.Decoder) error {
	_, err := r.decode(d, -1, nil)
	return err
}

// decode reads a Request. avail bounds the number of input bytes left
// (-1: unknown): a string or bin claiming more is an error without an
// allocation; in names the previous client id, so
// that a connection whose requests all carry the same id allocates it once.
// idOK reports whether r.ID was read, so that a server can answer a
// malformed request instead of dropping the connection.
func (r *Request) decode(d *msgpack.Decoder, avail int, in *interner) (idOK bool, err error) {
	defer func() {
		// The fields are read with the decoder's scalar methods, which do
		// not panic on any input we know of; this is the backstop.
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: request: decoder panic: %v", ErrBadFrame, p)
		}
	}()
	n, err := d.DecodeArrayLen()
	if err != nil {
		return false, fmt.Errorf("%w: request: %v", ErrBadFrame, err)
	}
	if n != fields {
		return false, fmt.Errorf("%w: request is an array of %d values, want %d", ErrBadFrame, n, fields)
	}
	if r.ID, err = d.DecodeUint64(); err != nil {
		return false, fmt.Errorf("%w: request id: %v", ErrBadFrame, err)
	}
	op, err := d.DecodeUint64()
	if err != nil {
		return true, fmt.Errorf("%w: request op: %v", ErrBadFrame, err)
	}
	if op > 0xff {
		return true, fmt.Errorf("%w: request op %d: unknown", ErrBadFrame, op)
	}
	r.Op = paxi.Op(op)
	if r.Key, err = decodeString(d, avail, in, false); err != nil {
		return true, fmt.Errorf("%w: request key: %v", ErrBadFrame, err)
	}
	if r.Value, err = decodeBytes(d, avail); err != nil {
		return true, fmt.Errorf("%w: request value: %v", ErrBadFrame, err)
	}
	if r.ClientID, err = decodeString(d, avail, in, true); err != nil {
		return true, fmt.Errorf("%w: request client id: %v", ErrBadFrame, err)
	}
	if r.CommandID, err = d.DecodeUint64(); err != nil {
		return true, fmt.Errorf("%w: request command id: %v", ErrBadFrame, err)
	}
	return true, nil
}

// EncodeMsgpack writes r as a six-element msgpack array. It implements
// msgpack.CustomEncoder.
func (r *Response) EncodeMsgpack(e *msgpack.Encoder) error {
	if err := e.EncodeArrayLen(fields); err != nil {
		return err
	}
	if err := e.EncodeUint(r.ID); err != nil {
		return err
	}
	if err := e.EncodeBytes(r.Value); err != nil {
		return err
	}
	if err := e.EncodeBool(r.Found); err != nil {
		return err
	}
	if err := e.EncodeUint(r.Version); err != nil {
		return err
	}
	if err := e.EncodeInt(r.Slot); err != nil {
		return err
	}
	return e.EncodeString(r.Err)
}

// DecodeMsgpack reads r as written by EncodeMsgpack. It implements
// msgpack.CustomDecoder and is safe on hostile input, as Request's.
func (r *Response) DecodeMsgpack(d *msgpack.Decoder) error {
	return r.decode(d, -1)
}

func (r *Response) decode(d *msgpack.Decoder, avail int) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: response: decoder panic: %v", ErrBadFrame, p)
		}
	}()
	n, err := d.DecodeArrayLen()
	if err != nil {
		return fmt.Errorf("%w: response: %v", ErrBadFrame, err)
	}
	if n != fields {
		return fmt.Errorf("%w: response is an array of %d values, want %d", ErrBadFrame, n, fields)
	}
	if r.ID, err = d.DecodeUint64(); err != nil {
		return fmt.Errorf("%w: response id: %v", ErrBadFrame, err)
	}
	if r.Value, err = decodeBytes(d, avail); err != nil {
		return fmt.Errorf("%w: response value: %v", ErrBadFrame, err)
	}
	if r.Found, err = d.DecodeBool(); err != nil {
		return fmt.Errorf("%w: response found: %v", ErrBadFrame, err)
	}
	if r.Version, err = d.DecodeUint64(); err != nil {
		return fmt.Errorf("%w: response version: %v", ErrBadFrame, err)
	}
	if r.Slot, err = d.DecodeInt64(); err != nil {
		return fmt.Errorf("%w: response slot: %v", ErrBadFrame, err)
	}
	if r.Err, err = decodeString(d, avail, nil, false); err != nil {
		return fmt.Errorf("%w: response error: %v", ErrBadFrame, err)
	}
	return nil
}

// readChunk is how much decodeBytes allocates at a time when it cannot
// check a declared length against the input size.
const readChunk = 64 << 10

// decodeBytes reads a msgpack bin or str (nil gives nil) into a new slice.
// msgpack/v5's own DecodeBytes allocates whatever length the input declares
// (4 GiB for five bytes of bin32 header), an out-of-memory crash recover
// cannot catch; here the length is checked against the input left (avail)
// or, when that is unknown, the slice grows only as bytes arrive.
func decodeBytes(d *msgpack.Decoder, avail int) ([]byte, error) {
	n, err := d.DecodeBytesLen()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, nil
	}
	if avail >= 0 && n > avail {
		return nil, fmt.Errorf("claims %d bytes, %d left in the frame", n, avail)
	}
	if avail < 0 && n > readChunk {
		return decodeBytesN(d, n)
	}
	b := make([]byte, n)
	return b, d.ReadFull(b)
}

// decodeString reads a msgpack str or bin (nil gives "") as a string,
// through in's scratch buffer if given. With intern set, a string equal to
// in's previous one is returned without allocating.
func decodeString(d *msgpack.Decoder, avail int, in *interner, intern bool) (string, error) {
	if in == nil {
		b, err := decodeBytes(d, avail)
		return string(b), err
	}
	n, err := d.DecodeBytesLen()
	if err != nil {
		return "", err
	}
	if n <= 0 {
		return "", nil
	}
	if avail >= 0 && n > avail {
		return "", fmt.Errorf("claims %d bytes, %d left in the frame", n, avail)
	}
	if avail < 0 && n > readChunk {
		b, err := decodeBytesN(d, n)
		return string(b), err
	}
	if cap(in.scratch) < n {
		in.scratch = make([]byte, n)
	}
	b := in.scratch[:n]
	if err := d.ReadFull(b); err != nil {
		return "", err
	}
	if intern {
		if string(b) != in.last { // compiled without allocating
			in.last = string(b)
		}
		return in.last, nil
	}
	return string(b), nil
}

// decodeBytesN reads n bytes, growing the slice as they arrive, so that a
// false length costs at most about twice the bytes actually present.
func decodeBytesN(d *msgpack.Decoder, n int) ([]byte, error) {
	b := make([]byte, 0, readChunk)
	for len(b) < n {
		m := min(n-len(b), max(cap(b)-len(b), readChunk))
		b = append(b, make([]byte, m)...)
		if err := d.ReadFull(b[len(b)-m:]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// interner is per-connection decoding state: a scratch buffer for strings
// and the last client id seen.
type interner struct {
	scratch []byte
	last    string
}

// appendWriter is an io.Writer and io.ByteWriter appending to a slice, so
// that msgpack writes straight into the frame being built.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

// frameEncoder appends frames to byte slices. It is not safe for
// concurrent use: every connection's writer owns one.
type frameEncoder struct {
	w   appendWriter
	enc *msgpack.Encoder
}

func newFrameEncoder() *frameEncoder {
	f := &frameEncoder{}
	f.enc = msgpack.NewEncoder(&f.w)
	return f
}

// appendFrame appends the frame of m (a *Request or *Response) to dst.
func (f *frameEncoder) appendFrame(dst []byte, m msgpack.CustomEncoder) ([]byte, error) {
	start := len(dst)
	f.w.b = append(dst, 0, 0, 0, 0)
	err := m.EncodeMsgpack(f.enc)
	b := f.w.b
	f.w.b = nil
	if err != nil {
		return dst, err
	}
	n := len(b) - start - HeaderSize
	if uint64(n) > uint64(^uint32(0)) {
		return dst, fmt.Errorf("native: frame of %d bytes: too large", n)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(n))
	return b, nil
}

// frameDecoder decodes frame bodies held in memory. Not safe for concurrent
// use: every connection's reader owns one.
type frameDecoder struct {
	r   bytes.Reader
	dec *msgpack.Decoder
	in  interner
}

func newFrameDecoder() *frameDecoder {
	f := &frameDecoder{}
	f.dec = msgpack.NewDecoder(&f.r) // bytes.Reader is a ByteScanner: no extra buffering
	return f
}

// request decodes a request body; the result does not alias body.
func (f *frameDecoder) request(body []byte, r *Request) (idOK bool, err error) {
	f.r.Reset(body)
	idOK, err = r.decode(f.dec, len(body), &f.in)
	if err == nil && f.r.Len() != 0 {
		err = fmt.Errorf("%w: %d trailing bytes after the request", ErrBadFrame, f.r.Len())
	}
	return idOK, err
}

// response decodes a response body; the result does not alias body.
func (f *frameDecoder) response(body []byte, r *Response) error {
	f.r.Reset(body)
	err := r.decode(f.dec, len(body))
	if err == nil && f.r.Len() != 0 {
		err = fmt.Errorf("%w: %d trailing bytes after the response", ErrBadFrame, f.r.Len())
	}
	return err
}
