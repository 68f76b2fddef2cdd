package transport_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/store"
	"github.com/ailidani/paxi-style/transport"
)

// P2a is shaped like Multi-Paxos' accept message: the message a leader
// sends most, so the one the codec benchmark measures.
type P2a struct {
	Ballot   paxi.Ballot    `msgpack:"b"`
	Slot     int64          `msgpack:"s"`
	Commands []paxi.Command `msgpack:"c"`
}

func (m P2a) String() string {
	return fmt.Sprintf("P2a{%v %d %d cmds}", m.Ballot, m.Slot, len(m.Commands))
}

// P1b has a map and nested structs, to cover more of msgpack.
type P1b struct {
	Ballot paxi.Ballot     `msgpack:"b"`
	ID     paxi.ID         `msgpack:"i"`
	Log    map[int64]Entry `msgpack:"l"`
}

// Entry is a log entry inside P1b.
type Entry struct {
	Ballot  paxi.Ballot  `msgpack:"b"`
	Command paxi.Command `msgpack:"c"`
}

func (m P1b) String() string { return fmt.Sprintf("P1b{%v %v %d}", m.Ballot, m.ID, len(m.Log)) }

// Heartbeat is an empty message.
type Heartbeat struct{}

func (Heartbeat) String() string { return "Heartbeat" }

// Ptr is registered as a pointer type.
type Ptr struct {
	N int `msgpack:"n"`
}

func (p *Ptr) String() string { return fmt.Sprintf("Ptr{%d}", p.N) }

// unregistered is never given to NewCodec.
type unregistered struct{}

func (unregistered) String() string { return "unregistered" }

func newTestCodec() *transport.Codec {
	return transport.NewCodec(P2a{}, P1b{}, Heartbeat{}, &Ptr{})
}

func cmd(key, val string, id uint64) paxi.Command {
	return paxi.Command{Op: paxi.Put, Key: key, Value: []byte(val), ClientID: "c1", CommandID: id}
}

func TestCodecRoundTrip(t *testing.T) {
	c := newTestCodec()
	id := paxi.NewID(2, 3)
	b := paxi.NewBallot(7, id)
	tests := []paxi.Message{
		paxi.Request{},
		paxi.Request{Command: cmd("k", "v", 9), Node: id, Handle: 42},
		paxi.Request{Command: paxi.Command{Op: paxi.Get, Key: "x"}, Node: paxi.NewID(65535, 65535), Handle: 1<<64 - 1},
		paxi.Reply{Node: id, Handle: 3, ClientID: "c1", CommandID: 8, Result: store.Result{Value: []byte("old"), Found: true, Version: 4}, Slot: -1, Ballot: b},
		paxi.Reply{ClientID: "c2", Err: "not leader", Slot: 12},
		P2a{Ballot: b, Slot: 1 << 40, Commands: []paxi.Command{cmd("a", "1", 1), cmd("b", strings.Repeat("x", 1000), 2)}},
		P2a{Ballot: b, Slot: -5},
		P1b{Ballot: b, ID: id, Log: map[int64]Entry{1: {Ballot: b, Command: cmd("k", "v", 1)}, 9: {}}},
		Heartbeat{},
		&Ptr{N: -3},
	}
	for _, m := range tests {
		t.Run(m.String(), func(t *testing.T) {
			enc, err := c.Marshal(m)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			got, err := c.Unmarshal(enc)
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if reflect.TypeOf(got) != reflect.TypeOf(m) {
				t.Fatalf("got type %T, want %T: handlers registered for %T would not see it", got, m, m)
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("round trip changed the message:\n got %#v\nwant %#v", got, m)
			}
		})
	}
}

// TestCodecCodes pins the wire codes: Request and Reply first, then the
// protocol's messages in order. Changing this breaks mixed-version clusters.
func TestCodecCodes(t *testing.T) {
	c := newTestCodec()
	for code, m := range []paxi.Message{paxi.Request{}, paxi.Reply{}, P2a{}, P1b{}, Heartbeat{}, &Ptr{}} {
		b, err := c.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := binary.Uvarint(b); got != uint64(code) {
			t.Errorf("%T: code %d, want %d", m, got, code)
		}
	}
}

// TestCodecNoAliasing: a decoded message does not share memory with the
// input, so transports can reuse their read buffers.
func TestCodecNoAliasing(t *testing.T) {
	c := newTestCodec()
	b, err := c.Marshal(P2a{Commands: []paxi.Command{cmd("key", "value", 1)}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	clear(b)
	if got := m.(P2a).Commands[0]; got.Key != "key" || string(got.Value) != "value" {
		t.Fatalf("decoded message changed with its input buffer: %v", got)
	}
}

func TestCodecErrors(t *testing.T) {
	c := newTestCodec()
	if _, err := c.Marshal(unregistered{}); !errors.Is(err, transport.ErrUnregistered) {
		t.Errorf("Marshal(unregistered): got %v, want ErrUnregistered", err)
	}
	if _, err := c.Marshal(&P2a{}); !errors.Is(err, transport.ErrUnregistered) {
		t.Errorf("Marshal(*P2a) with P2a registered: got %v, want ErrUnregistered", err)
	}
	if _, err := c.Marshal(nil); !errors.Is(err, transport.ErrUnregistered) {
		t.Errorf("Marshal(nil): got %v, want ErrUnregistered", err)
	}
	good, _ := c.Marshal(P2a{Slot: 1})
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "no valid type code"},
		{"unknown code", []byte{99, 0x80}, "unknown type code 99"},
		{"huge code", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "unknown type code"},
		{"overlong varint", bytes.Repeat([]byte{0xff}, 11), "no valid type code"},
		{"no body", []byte{2}, "truncated"},
		{"trailing bytes", append(bytes.Clone(good), 0), "trailing"},
		{"truncated", good[:len(good)-1], "truncated"},
		{"wrong shape", []byte{2, 0xa3, 'a', 'b', 'c'}, "P2a"},
		{"invalid code", []byte{2, 0xc1}, "invalid msgpack code"},
		// Each would make msgpack allocate gigabytes without checkMsgpack.
		{"array32 bomb", []byte{2, 0x81, 0xa1, 'c', 0xdd, 0xff, 0xff, 0xff, 0xff}, "exceeds"},
		{"bin32 bomb", []byte{0, 0x81, 0xa1, 'c', 0x81, 0xa1, 'v', 0xc6, 0x7f, 0xff, 0xff, 0xff}, "exceeds"},
		{"map32 bomb", []byte{3, 0x81, 0xa1, 'l', 0xdf, 0x7f, 0xff, 0xff, 0xff}, "exceeds"},
		{"deep nesting", append([]byte{2}, bytes.Repeat([]byte{0x91}, 1000)...), "nested deeper"},
		{"nil pointer message", []byte{5, 0xc0}, "nil message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := c.Unmarshal(tt.in)
			if !errors.Is(err, transport.ErrBadMessage) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Unmarshal(% x) = %v, %v; want ErrBadMessage mentioning %q", tt.in, m, err, tt.want)
			}
		})
	}
}

func TestNewCodecPanicsOnDuplicates(t *testing.T) {
	for _, msgs := range [][]paxi.Message{
		{P2a{}, P2a{}},
		{paxi.Request{}},
		{paxi.Reply{}},
		{nil},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewCodec(%T) did not panic", msgs)
				}
			}()
			transport.NewCodec(msgs...)
		}()
	}
	transport.NewCodec(P2a{}, &P2a{}) // different types: fine
}

// FuzzUnmarshal: no input makes Unmarshal panic, hang or allocate wildly,
// and anything it accepts survives a second round trip unchanged.
func FuzzUnmarshal(f *testing.F) {
	c := newTestCodec()
	seeds := []paxi.Message{
		paxi.Request{Command: cmd("k", "v", 1), Node: paxi.NewID(1, 2), Handle: 3},
		paxi.Reply{ClientID: "c", Result: store.Result{Value: []byte("v"), Found: true}},
		P2a{Ballot: 5, Slot: 6, Commands: []paxi.Command{cmd("a", "b", 1)}},
		P1b{Log: map[int64]Entry{1: {Command: cmd("x", "y", 2)}}},
		Heartbeat{},
		&Ptr{N: 1},
	}
	for _, m := range seeds {
		b, err := c.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{2, 0x81, 0xa1, 'c', 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0xc6, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{99})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := c.Unmarshal(b)
		if err != nil {
			if !errors.Is(err, transport.ErrBadMessage) {
				t.Fatalf("error does not wrap ErrBadMessage: %v", err)
			}
			if strings.Contains(err.Error(), "panic") {
				// Recovered, but checkMsgpack should have caught it.
				t.Fatalf("decoder panicked: %v", err)
			}
			return
		}
		_ = m.String()
		b2, err := c.Marshal(m)
		if err != nil {
			t.Fatalf("decoded %T does not re-encode: %v", m, err)
		}
		m2, err := c.Unmarshal(b2)
		if err != nil {
			t.Fatalf("re-encoded %T does not decode: %v", m, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("second round trip changed %#v to %#v", m, m2)
		}
	})
}
