package vpaxos

import (
	"reflect"
	"testing"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport"
)

// Every message survives the wire.
func TestMessagesRoundTrip(t *testing.T) {
	b := paxi.NewBallot(7, paxi.MustID("2.3"))
	cmd := paxi.Command{Op: paxi.Put, Key: "k", Value: []byte("v"), ClientID: "c", CommandID: 9}
	cfg := Configuration{paxi.MustID("2.3"), paxi.MustID("2.1"), paxi.MustID("1.1")}
	es := []Entry{{Slot: 5, Ballot: b, Command: cmd, Committed: true}, {Slot: 6, Ballot: b, Command: paxi.Command{Op: paxi.Noop}}}
	codec := transport.NewCodec(ProtocolWithOptions(Options{}).Messages...)
	for _, m := range []paxi.Message{
		MasterOp{ID: 1 << 60, Kind: OpNewBallot, Key: "k", Ballot: b, Leader: cfg[0], Config: cfg},
		MasterOp{ID: 3, Kind: OpQuery, Key: "k"},
		MasterReply{ID: 3, Key: "k", Issued: b, IssuedConfig: cfg, Active: b - 1, ActiveConfig: cfg[:1]},
		MasterRequest{Request: paxi.Request{Command: cmd, Node: cfg[1], Handle: 4}},
		Forward{Request: paxi.Request{Command: cmd, Node: cfg[1], Handle: 4}, Ballot: b},
		P1a{Key: "k", Ballot: b, From: 3},
		P1b{Key: "k", Ballot: b, Entries: es},
		Transfer{Key: "k", Ballot: b, From: 5, End: 6, Entries: es},
		TransferAck{Key: "k", Ballot: b, Need: -1},
		P2a{Key: "k", Ballot: b, Slot: 1 << 40, Command: cmd},
		P2a{Key: "", Ballot: 0, Slot: 0, Command: paxi.Command{Op: paxi.Noop}},
		P2b{Key: "k", Ballot: b, Slot: 2},
		P3{Key: "k", Ballot: b, Slot: 2, Command: cmd},
		P3{Key: "k", Ballot: b, Slot: 3, Command: paxi.Command{Op: paxi.Get, Key: "k", ClientID: "c", CommandID: 1}},
		Beat{Entries: []BeatEntry{{Key: "k", Ballot: b, Commit: 3}, {Key: "j", Ballot: b, Commit: 0}}},
		CatchUp{Key: "k", From: 1, To: 9},
		Move{Key: "k", Ballot: b},
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

// The master's state machine: NewBallot is a compare-and-set on the last
// issued ballot, and Complete activates only the last ballot issued.
func TestMasterRecord(t *testing.T) {
	a, b := paxi.MustID("1.1"), paxi.MustID("2.1")
	ca, cb := Configuration{a, b}, Configuration{b, a}
	b1 := paxi.Ballot(0).Next(a)
	b2 := b1.Next(b)
	b3 := b2.Next(a)
	newBallot := func(after paxi.Ballot, l paxi.ID, c Configuration) MasterOp {
		return MasterOp{Kind: OpNewBallot, Ballot: after, Leader: l, Config: c}
	}
	complete := func(x paxi.Ballot) MasterOp { return MasterOp{Kind: OpComplete, Ballot: x} }
	for _, tc := range []struct {
		name string
		ops  []MasterOp
		want record
	}{
		{"first ballot", []MasterOp{newBallot(0, a, ca)}, record{Issued: b1, IssuedConfig: ca}},
		{"activated", []MasterOp{newBallot(0, a, ca), complete(b1)}, record{Issued: b1, IssuedConfig: ca, Active: b1, ActiveConfig: ca}},
		{"stale expectation refused", []MasterOp{newBallot(0, a, ca), newBallot(0, b, cb)}, record{Issued: b1, IssuedConfig: ca}},
		{"next ballot keeps the active one", []MasterOp{newBallot(0, a, ca), complete(b1), newBallot(b1, b, cb)},
			record{Issued: b2, IssuedConfig: cb, Active: b1, ActiveConfig: ca}},
		{"superseded ballot not activated", []MasterOp{newBallot(0, a, ca), newBallot(b1, b, cb), complete(b1)},
			record{Issued: b2, IssuedConfig: cb}},
		{"move", []MasterOp{newBallot(0, a, ca), complete(b1), newBallot(b1, b, cb), complete(b2)},
			record{Issued: b2, IssuedConfig: cb, Active: b2, ActiveConfig: cb}},
		{"abandoned then replaced", []MasterOp{newBallot(0, a, ca), complete(b1), newBallot(b1, b, cb), newBallot(b2, a, ca), complete(b2), complete(b3)},
			record{Issued: b3, IssuedConfig: ca, Active: b3, ActiveConfig: ca}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r record
			for _, op := range tc.ops {
				r.apply(decodeOp(encodeOp(op)))
			}
			if !reflect.DeepEqual(r, tc.want) {
				t.Fatalf("record %+v, want %+v", r, tc.want)
			}
		})
	}
}

func TestMasterMembersSpreadOverZones(t *testing.T) {
	for _, tc := range []struct {
		n, zones, size int
		want           string
	}{
		{3, 1, 3, "[1.1 1.2 1.3]"},
		{5, 1, 3, "[1.1 1.2 1.3]"},
		{6, 3, 3, "[1.1 2.1 3.1]"},
		{4, 2, 3, "[1.1 1.2 2.1]"},
		{2, 2, 3, "[1.1 2.1]"},
	} {
		cfg := paxi.DefaultConfig()
		cfg.SetLocal(tc.n, tc.zones, 1735, 8081)
		if got := Configuration(masterMembers(cfg, tc.size)).String(); got != tc.want {
			t.Errorf("%d nodes in %d zones: master %s, want %s", tc.n, tc.zones, got, tc.want)
		}
	}
}
