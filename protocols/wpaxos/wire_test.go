package wpaxos_test

import (
	"reflect"
	"testing"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/paxos"
	"github.com/ailidani/paxi-style/protocols/wpaxos"
	"github.com/ailidani/paxi-style/transport"
)

// Every message survives the wire, key included, the hand-encoded ones too.
func TestMessagesRoundTrip(t *testing.T) {
	b := paxi.NewBallot(7, paxi.MustID("2.3"))
	cmds := []paxi.Command{
		{Op: paxi.Put, Key: "k", Value: []byte("v"), ClientID: "c", CommandID: 9},
		{Op: paxi.Noop},
	}
	codec := transport.NewCodec(wpaxos.Protocol().Messages...)
	for _, m := range []paxi.Message{
		wpaxos.Forward{Ballot: b, Hops: 2, Request: paxi.Request{Command: cmds[0], Node: paxi.MustID("1.2"), Handle: 77}},
		wpaxos.Prepare{Key: "k", P1a: paxos.P1a{Ballot: b, Execute: 4}},
		wpaxos.Promise{Key: "k", P1b: paxos.P1b{Ballot: b, Slot: 9, Log: []paxos.Entry{{Slot: 5, Ballot: b, Commands: cmds, Committed: true}}}},
		wpaxos.Accept{Key: "k", P2a: paxos.P2a{Ballot: b, Slot: 12, Commands: cmds}},
		wpaxos.Accepted{Key: "", P2b: paxos.P2b{Ballot: b, Slot: -1}},
		wpaxos.Commit{Key: "k", P3: paxos.P3{Ballot: b, Slot: 3}},
		wpaxos.Heartbeat{Key: "k", Heartbeat: paxos.Heartbeat{Ballot: b, Slot: 10, Commit: 8}},
		wpaxos.CatchUp{Key: "k", CatchUp: paxos.CatchUp{From: 2, To: 7}},
		wpaxos.LeaderChange{Key: "k", From: paxi.MustID("1.1"), To: paxi.MustID("3.2"), Ballot: b},
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
			t.Errorf("round trip of %T:\n got %v\nwant %v", m, got, m)
		}
	}
}
