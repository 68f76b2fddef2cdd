package native

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/ailidani/paxi-style/paxi"
)

// frameBody checks a frame's length prefix and returns its body.
func frameBody(t testing.TB, f []byte) []byte {
	t.Helper()
	if len(f) < HeaderSize {
		t.Fatalf("frame of %d bytes", len(f))
	}
	n := binary.BigEndian.Uint32(f)
	if int(n) != len(f)-HeaderSize {
		t.Fatalf("frame length prefix %d, body %d bytes", n, len(f)-HeaderSize)
	}
	return f[HeaderSize:]
}

var testRequests = []Request{
	{},
	{ID: 1, Op: paxi.Get, Key: "k"},
	{ID: math.MaxUint64, Op: paxi.Put, Key: strings.Repeat("k", 256), Value: []byte{}, ClientID: "c", CommandID: math.MaxUint64},
	{ID: 300, Op: paxi.Put, Key: "key-1", Value: bytes.Repeat([]byte{0xc1}, 70000), ClientID: strings.Repeat("x", 128), CommandID: 1 << 40},
	{ID: 7, Op: paxi.Delete, Key: "a.b_c~d-e", ClientID: "bench-1-0", CommandID: 17},
	{ID: 8, Op: 200, Key: "not/valid but encodable"},
}

var testResponses = []Response{
	{},
	{ID: 1, Slot: -1},
	{ID: math.MaxUint64, Value: []byte{}, Found: true, Version: math.MaxUint64, Slot: math.MaxInt64},
	{ID: 9, Value: bytes.Repeat([]byte("v"), 100000), Found: true, Version: 3, Slot: math.MinInt64},
	{ID: 10, Err: "command not executed: " + strings.Repeat("e", 300)},
}

func TestRequestRoundTrip(t *testing.T) {
	enc, dec := newFrameEncoder(), newFrameDecoder()
	var buf []byte
	for i, want := range testRequests {
		f, err := enc.appendFrame(buf[:0], &want)
		if err != nil {
			t.Fatal(err)
		}
		var got Request
		if _, err := dec.request(frameBody(t, f), &got); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("request %d: got %+v, want %+v", i, got, want)
		}
		// Through msgpack's own entry points, which find the custom
		// methods: interoperable with any msgpack library.
		b, err := msgpack.Marshal(&want)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, f[HeaderSize:]) {
			t.Errorf("request %d: msgpack.Marshal differs from the frame body", i)
		}
		var viaLib Request
		if err := msgpack.Unmarshal(b, &viaLib); err != nil || !reflect.DeepEqual(viaLib, want) {
			t.Errorf("request %d: msgpack.Unmarshal: %+v, %v", i, viaLib, err)
		}
		buf = f
	}
}

func TestResponseRoundTrip(t *testing.T) {
	enc, dec := newFrameEncoder(), newFrameDecoder()
	for i, want := range testResponses {
		f, err := enc.appendFrame(nil, &want)
		if err != nil {
			t.Fatal(err)
		}
		var got Response
		if err := dec.response(frameBody(t, f), &got); err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("response %d: got %+v, want %+v", i, got, want)
		}
		var viaLib Response
		if err := msgpack.Unmarshal(f[HeaderSize:], &viaLib); err != nil || !reflect.DeepEqual(viaLib, want) {
			t.Errorf("response %d: msgpack.Unmarshal: %+v, %v", i, viaLib, err)
		}
	}
}

// Frames appended one after another parse back one by one: the length
// prefixes delimit them.
func TestFramesConcatenate(t *testing.T) {
	enc, dec := newFrameEncoder(), newFrameDecoder()
	var stream []byte
	for i := range testRequests {
		var err error
		if stream, err = enc.appendFrame(stream, &testRequests[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; len(stream) > 0; i++ {
		n := int(binary.BigEndian.Uint32(stream))
		var got Request
		if _, err := dec.request(stream[HeaderSize:HeaderSize+n], &got); err != nil || !reflect.DeepEqual(got, testRequests[i]) {
			t.Fatalf("frame %d: %+v %v", i, got, err)
		}
		stream = stream[HeaderSize+n:]
	}
}

// The decoded request does not alias the frame: the server decodes in
// place in its read buffer, which the next read overwrites.
func TestDecodeDoesNotAlias(t *testing.T) {
	enc, dec := newFrameEncoder(), newFrameDecoder()
	f, _ := enc.appendFrame(nil, &Request{ID: 1, Op: paxi.Put, Key: "key", Value: []byte("value"), ClientID: "cid"})
	var r Request
	if _, err := dec.request(frameBody(t, f), &r); err != nil {
		t.Fatal(err)
	}
	for i := range f {
		f[i] = 'X'
	}
	if r.Key != "key" || string(r.Value) != "value" || r.ClientID != "cid" {
		t.Fatalf("decoded request changed with its frame: %+v", r)
	}
}

// The client id of a connection is interned: equal ids decode to one
// string, and a new id replaces it.
func TestClientIDInterned(t *testing.T) {
	enc, dec := newFrameEncoder(), newFrameDecoder()
	f1, _ := enc.appendFrame(nil, &Request{ID: 1, Key: "k", ClientID: "client-7"})
	var a, b, c Request
	dec.request(frameBody(t, f1), &a)
	dec.request(frameBody(t, f1), &b)
	if a.ClientID != "client-7" || b.ClientID != "client-7" || strDataPtr(a.ClientID) != strDataPtr(b.ClientID) {
		t.Fatalf("client ids %q %q not shared", a.ClientID, b.ClientID)
	}
	f2, _ := enc.appendFrame(nil, &Request{ID: 2, Key: "k", ClientID: "client-8"})
	dec.request(frameBody(t, f2), &c)
	if c.ClientID != "client-8" || a.ClientID != "client-7" {
		t.Fatalf("client ids %q %q", a.ClientID, c.ClientID)
	}
}

func strDataPtr(s string) *byte { return unsafe.StringData(s) }

// hostileBodies are request bodies that must be rejected, each with
// whether the request id can still be read (so that the server answers
// instead of closing).
var hostileBodies = []struct {
	name string
	body []byte
	idOK bool
}{
	{"empty", nil, false},
	{"nil", []byte{0xc0}, false},
	{"map", []byte{0x81, 0x01, 0x02}, false},
	{"array of 5", []byte{0x95, 1, 0, 0xa1, 'k', 0xc0}, false},
	{"array32 of 4G", []byte{0xdd, 0xff, 0xff, 0xff, 0xff}, false},
	{"string id", []byte{0x96, 0xa1, 'x'}, false},
	{"reserved code", []byte{0xc1}, false},
	{"truncated after id", []byte{0x96, 0x05}, true},
	{"op is a string", []byte{0x96, 0x05, 0xa1, 'x'}, true},
	{"op over a byte", []byte{0x96, 0x05, 0xcd, 0x01, 0x00, 0xa1, 'k', 0xc0, 0xa0, 0x00}, true},
	{"key bin32 claims 4G", []byte{0x96, 0x05, 0x00, 0xc6, 0xff, 0xff, 0xff, 0xff}, true},
	{"key str32 claims 4G", []byte{0x96, 0x05, 0x00, 0xdb, 0xff, 0xff, 0xff, 0xff}, true},
	{"value bin32 claims 4G", []byte{0x96, 0x05, 0x01, 0xa1, 'k', 0xc6, 0xff, 0xff, 0xff, 0xff}, true},
	{"value is an array", []byte{0x96, 0x05, 0x01, 0xa1, 'k', 0x91, 0x91, 0x91, 0x90}, true},
	{"client id str32 claims 2G", []byte{0x96, 0x05, 0x01, 0xa1, 'k', 0xc0, 0xdb, 0x7f, 0xff, 0xff, 0xff}, true},
	{"command id is a float", []byte{0x96, 0x05, 0x00, 0xa1, 'k', 0xc0, 0xa0, 0xca, 0, 0, 0, 0}, true},
	{"ext value", []byte{0x96, 0x05, 0x01, 0xa1, 'k', 0xd4, 0x01, 0x02, 0xa0, 0x00}, true},
	{"trailing bytes", []byte{0x96, 0x05, 0x00, 0xa1, 'k', 0xc0, 0xa0, 0x00, 0x00}, true},
}

func TestDecodeHostile(t *testing.T) {
	dec := newFrameDecoder()
	for _, tt := range hostileBodies {
		var r Request
		idOK, err := dec.request(tt.body, &r)
		if err == nil {
			t.Errorf("%s: decoded %+v", tt.name, r)
			continue
		}
		if !errors.Is(err, ErrBadFrame) {
			t.Errorf("%s: error %v does not wrap ErrBadFrame", tt.name, err)
		}
		if idOK != tt.idOK {
			t.Errorf("%s: idOK %v, want %v (%v)", tt.name, idOK, tt.idOK, err)
		}
		if idOK && r.ID != 5 {
			t.Errorf("%s: id %d, want 5", tt.name, r.ID)
		}
		// Through msgpack.Unmarshal, where the decoder does not know the
		// input size: still an error (Unmarshal itself takes nil for a
		// zero value and ignores trailing bytes).
		if tt.name == "nil" || tt.name == "trailing bytes" {
			continue
		}
		if err := msgpack.Unmarshal(tt.body, &Request{}); err == nil {
			t.Errorf("%s: msgpack.Unmarshal accepted it", tt.name)
		}
	}
	// A response claiming a huge value is also refused.
	if err := dec.response([]byte{0x96, 0x01, 0xc6, 0xff, 0xff, 0xff, 0xff}, &Response{}); err == nil {
		t.Error("response claiming a 4 GiB value decoded")
	}
}

// A declared length far beyond the input costs no more memory than the
// input, even through msgpack.Unmarshal, where the length cannot be
// checked up front. msgpack's own DecodeBytes would allocate it all.
func TestDecodeLyingLengthDoesNotAllocate(t *testing.T) {
	body := []byte{0x96, 0x05, 0x01, 0xa1, 'k', 0xc6, 0x40, 0x00, 0x00, 0x00} // value claims 1 GiB
	body = append(body, make([]byte, 1000)...)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 10 {
		if err := msgpack.Unmarshal(body, &Request{}); err == nil {
			t.Fatal("decoded")
		}
		if _, err := newFrameDecoder().request(body, &Request{}); err == nil {
			t.Fatal("decoded")
		}
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Fatalf("decoding 10 lying 1 KiB bodies allocated %d MiB", got>>20)
	}
}

// FuzzDecodeRequest: any body decodes or fails without panicking, and what
// decodes re-encodes to a body that decodes to the same request.
func FuzzDecodeRequest(f *testing.F) {
	enc := newFrameEncoder()
	for i := range testRequests[:5] {
		b, _ := enc.appendFrame(nil, &testRequests[i])
		f.Add(b[HeaderSize:])
	}
	for _, h := range hostileBodies {
		f.Add(h.body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		dec := newFrameDecoder()
		var r Request
		if _, err := dec.request(body, &r); err != nil {
			return
		}
		b, err := enc.appendFrame(nil, &r)
		if err != nil {
			t.Fatal(err)
		}
		var r2 Request
		if _, err := dec.request(b[HeaderSize:], &r2); err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", r, r2, err)
		}
	})
}

// The hot path allocates only what it must: nothing to encode, and to
// decode a request its key and value (the client id is interned); a
// response, its value.
func TestCodecAllocations(t *testing.T) {
	enc, dec := newFrameEncoder(), newFrameDecoder()
	req := Request{ID: 12345, Op: paxi.Put, Key: "4711", Value: make([]byte, 64), ClientID: "bench-1-0", CommandID: 1 << 50}
	resp := Response{ID: 12345, Value: make([]byte, 64), Found: true, Version: 7, Slot: 123456}
	buf := make([]byte, 0, 4096)
	if a := testing.AllocsPerRun(100, func() { enc.appendFrame(buf[:0], &req) }); a != 0 {
		t.Errorf("encoding a request: %v allocations", a)
	}
	if a := testing.AllocsPerRun(100, func() { enc.appendFrame(buf[:0], &resp) }); a != 0 {
		t.Errorf("encoding a response: %v allocations", a)
	}
	rf, _ := enc.appendFrame(nil, &req)
	var r Request
	if a := testing.AllocsPerRun(100, func() { dec.request(rf[HeaderSize:], &r) }); a > 2 {
		t.Errorf("decoding a request: %v allocations, want at most 2 (key, value)", a)
	}
	sf, _ := enc.appendFrame(nil, &resp)
	var s Response
	if a := testing.AllocsPerRun(100, func() { dec.response(sf[HeaderSize:], &s) }); a > 1 {
		t.Errorf("decoding a response: %v allocations, want at most 1 (value)", a)
	}
}

func BenchmarkRequestEncodeDecode(b *testing.B) {
	enc, dec := newFrameEncoder(), newFrameDecoder()
	req := Request{ID: 12345, Op: paxi.Put, Key: "4711", Value: make([]byte, 64), ClientID: "bench-1-0", CommandID: 1 << 50}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		f, err := enc.appendFrame(buf[:0], &req)
		if err != nil {
			b.Fatal(err)
		}
		var r Request
		if _, err := dec.request(f[HeaderSize:], &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResponseEncodeDecode(b *testing.B) {
	enc, dec := newFrameEncoder(), newFrameDecoder()
	resp := Response{ID: 12345, Value: make([]byte, 64), Found: true, Version: 7, Slot: 123456}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		f, err := enc.appendFrame(buf[:0], &resp)
		if err != nil {
			b.Fatal(err)
		}
		var r Response
		if err := dec.response(f[HeaderSize:], &r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestReflect is the same request through msgpack's reflection
// on a plain struct, for comparison with the hand-written codec.
func BenchmarkRequestReflect(b *testing.B) {
	type plain struct {
		ID        uint64
		Op        uint8
		Key       string
		Value     []byte
		ClientID  string
		CommandID uint64
	}
	req := plain{ID: 12345, Op: 1, Key: "4711", Value: make([]byte, 64), ClientID: "bench-1-0", CommandID: 1 << 50}
	b.ReportAllocs()
	for b.Loop() {
		buf, err := msgpack.Marshal(&req)
		if err != nil {
			b.Fatal(err)
		}
		var r plain
		if err := msgpack.Unmarshal(buf, &r); err != nil {
			b.Fatal(err)
		}
	}
}
