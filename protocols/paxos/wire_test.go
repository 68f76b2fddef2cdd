package paxos_test

import (
	"reflect"
	"testing"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/paxos"
	"github.com/ailidani/paxi-style/transport"
)

// Every message survives the wire, the hand-encoded ones included.
func TestMessagesRoundTrip(t *testing.T) {
	b := paxi.NewBallot(7, paxi.MustID("2.3"))
	cmds := []paxi.Command{
		{Op: paxi.Put, Key: "k", Value: []byte("v"), ClientID: "c", CommandID: 9},
		{Op: paxi.Get, Key: "x"},
		{Op: paxi.Noop},
	}
	codec := transport.NewCodec(paxos.Messages...)
	for _, m := range []paxi.Message{
		paxos.P1a{Ballot: b, Execute: 4},
		paxos.P1b{Ballot: b, Slot: 9, Log: []paxos.Entry{{Slot: 5, Ballot: b, Commands: cmds, Committed: true}}},
		paxos.P2a{Ballot: b, Slot: 12, Commands: cmds},
		paxos.P2a{Ballot: b, Slot: 0},
		paxos.P2b{Ballot: b, Slot: -1},
		paxos.P3{Ballot: b, Slot: 1 << 40, Commands: cmds},
		paxos.P3{Ballot: b, Slot: 3},
		paxos.Heartbeat{Ballot: b, Slot: 10, Commit: 8},
		paxos.CatchUp{From: 2, To: 7},
		paxi.Request{Command: cmds[0], Node: paxi.MustID("1.2"), Handle: 77},
		paxi.Reply{Node: paxi.MustID("1.2"), Handle: 77, ClientID: "c", CommandID: 9, Slot: 3, Ballot: b, Err: "e"},
	} {
		bs, err := codec.Marshal(m)
		if err != nil {
			t.Fatalf("%v: %v", m, err)
		}
		got, err := codec.Unmarshal(bs)
		if err != nil {
			t.Fatalf("%v: %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip:\n got  %#v\n want %#v", got, m)
		}
	}
}

func BenchmarkP2aCodec(b *testing.B) {
	codec := transport.NewCodec(paxos.Messages...)
	m := paxos.P2a{Ballot: paxi.NewBallot(3, paxi.MustID("1.1")), Slot: 1234,
		Commands: []paxi.Command{{Op: paxi.Put, Key: "123", Value: make([]byte, 64), ClientID: "bench-1-7", CommandID: 99}}}
	b.ReportAllocs()
	for b.Loop() {
		bs, err := codec.Marshal(m)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := codec.Unmarshal(bs); err != nil {
			b.Fatal(err)
		}
	}
}
