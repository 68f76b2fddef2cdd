package store_test

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/ailidani/paxi-style/store"
)

func TestApply(t *testing.T) {
	s := store.New()
	steps := []struct {
		cmd  store.Command
		want store.Result
	}{
		{store.Command{Op: store.Get, Key: "a"}, store.Result{}},
		{store.Command{Op: store.Put, Key: "a", Value: []byte("1")}, store.Result{Version: 1}},
		{store.Command{Op: store.Put, Key: "a", Value: []byte("2")}, store.Result{Value: []byte("1"), Found: true, Version: 2}},
		{store.Command{Op: store.Get, Key: "a"}, store.Result{Value: []byte("2"), Found: true, Version: 2}},
		{store.Command{Op: store.Delete, Key: "a"}, store.Result{Value: []byte("2"), Found: true, Version: 3}},
		{store.Command{Op: store.Get, Key: "a"}, store.Result{Version: 3}},
		{store.Command{Op: store.Put, Key: "a"}, store.Result{Version: 4}},
		{store.Command{Op: store.Get, Key: "a"}, store.Result{Value: []byte{}, Found: true, Version: 4}},
		{store.Command{Op: store.Noop}, store.Result{}},
	}
	for i, st := range steps {
		got := s.Apply(st.cmd)
		if !reflect.DeepEqual(got, st.want) {
			t.Errorf("step %d %v: got %+v, want %+v", i, st.cmd, got, st.want)
		}
	}
	h := s.History("a")
	if len(h) != 4 || string(h[1].Value) != "2" || !h[2].Deleted || h[3].Version != 4 {
		t.Errorf("history = %+v", h)
	}
}

func TestHistoryNamesWriter(t *testing.T) {
	s := store.New()
	s.Apply(store.Command{Op: store.Put, Key: "k", Value: []byte("v"), ClientID: "c", CommandID: 9})
	h := s.History("k")
	if len(h) != 1 || h[0].ClientID != "c" || h[0].CommandID != 9 {
		t.Fatalf("history = %+v", h)
	}
	h[0].Value[0] = 'x' // a copy: the store must not change
	if v, _ := s.Get("k"); string(v) != "v" {
		t.Fatal("History returned the store's own memory")
	}
}

func TestValueIsCopied(t *testing.T) {
	s := store.New()
	buf := []byte("abc")
	s.Apply(store.Command{Op: store.Put, Key: "k", Value: buf})
	buf[0] = 'z'
	if v, _ := s.Get("k"); string(v) != "abc" {
		t.Fatalf("store kept the caller's buffer: %q", v)
	}
}

func TestDuplicateCommandAppliedOnce(t *testing.T) {
	s := store.New()
	c := store.Command{Op: store.Put, Key: "k", Value: []byte("1"), ClientID: "c", CommandID: 1}
	first := s.Apply(c)
	// Out-of-order ids from one client (Paxi's concurrent benchmark) are
	// distinct commands.
	s.Apply(store.Command{Op: store.Put, Key: "k", Value: []byte("3"), ClientID: "c", CommandID: 3})
	s.Apply(store.Command{Op: store.Put, Key: "k", Value: []byte("2"), ClientID: "c", CommandID: 2})
	again := s.Apply(c)
	if !again.Duplicate || again.Version != first.Version {
		t.Fatalf("retry: got %+v, want the first result %+v marked duplicate", again, first)
	}
	if n := len(s.History("k")); n != 3 {
		t.Fatalf("%d versions, want 3", n)
	}
}

// A client that reuses a command id for a different command (the original
// Paxi client does, across concurrent requests and across runs) gets it
// executed, and reads are never answered from the session cache.
func TestReusedIDForDifferentCommandIsExecuted(t *testing.T) {
	s := store.New()
	s.Apply(store.Command{Op: store.Put, Key: "k", Value: []byte("1"), ClientID: "c", CommandID: 5})
	r := s.Apply(store.Command{Op: store.Put, Key: "k", Value: []byte("2"), ClientID: "c", CommandID: 5})
	if r.Duplicate {
		t.Fatal("a different write with a reused id was taken for a retry")
	}
	s.Apply(store.Command{Op: store.Put, Key: "j", Value: []byte("2"), ClientID: "c", CommandID: 5})
	g1 := s.Apply(store.Command{Op: store.Get, Key: "k", ClientID: "c", CommandID: 6})
	s.Apply(store.Command{Op: store.Put, Key: "k", Value: []byte("3"), ClientID: "d", CommandID: 1})
	g2 := s.Apply(store.Command{Op: store.Get, Key: "k", ClientID: "c", CommandID: 6})
	if g1.Duplicate || g2.Duplicate || string(g2.Value) != "3" {
		t.Fatalf("repeated read answered from cache: %+v then %+v", g1, g2)
	}
	if n := len(s.History("k")); n != 3 {
		t.Fatalf("%d versions of k, want 3", n)
	}
}

func TestSessionWindowBounded(t *testing.T) {
	s := store.New()
	for i := range store.SessionWindow + 10 {
		s.Apply(store.Command{Op: store.Put, Key: "k", ClientID: "c", CommandID: uint64(i)})
	}
	snap := s.Snapshot()
	if n := len(snap.Sessions[0].Commands); n != store.SessionWindow {
		t.Fatalf("session remembers %d commands, want %d", n, store.SessionWindow)
	}
}

func TestSnapshotRestore(t *testing.T) {
	s := store.New()
	for i := range 20 {
		s.Apply(store.Command{Op: store.Put, Key: fmt.Sprint(i % 3), Value: []byte(fmt.Sprint(i)), ClientID: "c", CommandID: uint64(i)})
	}
	s.Apply(store.Command{Op: store.Delete, Key: "1"})
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var r store.Store
	if err := r.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Snapshot(), r.Snapshot()) {
		t.Fatal("restored store differs")
	}
	// Deduplication state survives the snapshot.
	if res := r.Apply(store.Command{Op: store.Put, Key: "0", Value: []byte("3"), ClientID: "c", CommandID: 3}); !res.Duplicate {
		t.Fatal("restored store forgot the client session")
	}
	b2, _ := s.MarshalBinary()
	if string(b) != string(b2) {
		t.Fatal("snapshot encoding is not deterministic")
	}
}

func TestRestoreRejectsBadSnapshot(t *testing.T) {
	bad := store.Snapshot{Keys: []store.KeyHistory{{Key: "k", Versions: []store.Version{{Version: 2}}}}}
	if err := store.New().Restore(bad); err == nil {
		t.Fatal("accepted versions not numbered from 1")
	}
	dup := store.Snapshot{Keys: []store.KeyHistory{{Key: "k"}, {Key: "k"}}}
	if err := store.New().Restore(dup); err == nil {
		t.Fatal("accepted a repeated key")
	}
	var s store.Store
	if err := s.UnmarshalBinary([]byte("{nope")); err == nil {
		t.Fatal("accepted garbage")
	}
}

func BenchmarkApplyPut(b *testing.B) {
	s := store.New()
	v := make([]byte, 64)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Apply(store.Command{Op: store.Put, Key: "k", Value: v, ClientID: "c", CommandID: uint64(i)})
	}
}

// OnApply sees every executed command once, in order, and neither
// duplicates nor no-ops.
func TestOnApplySeesExecutedCommandsInOrder(t *testing.T) {
	s := store.New()
	var seen []string
	s.OnApply(func(c store.Command, r store.Result) {
		seen = append(seen, fmt.Sprintf("%v@%d", c, r.Version))
	})
	put := store.Command{Op: store.Put, Key: "k", Value: []byte("1"), ClientID: "c", CommandID: 1}
	s.Apply(put)
	s.Apply(put) // a retry: not executed again
	s.Apply(store.Command{Op: store.Noop})
	s.Apply(store.Command{Op: store.Get, Key: "k", ClientID: "c", CommandID: 2})
	s.Apply(store.Command{Op: store.Delete, Key: "k", ClientID: "c", CommandID: 3})
	want := []string{"put(k=k,v=1b,c#1)@1", "get(k=k,c#2)@1", "delete(k=k,c#3)@2"}
	if !reflect.DeepEqual(seen, want) {
		t.Fatalf("observed %q, want %q", seen, want)
	}
	s.OnApply(nil)
	s.Apply(store.Command{Op: store.Put, Key: "k"})
	if len(seen) != len(want) {
		t.Fatal("observer called after it was removed")
	}
}

// Many versions of assorted sizes (crossing the history's chunk
// boundaries, with values larger than a chunk) read back exactly, as the
// latest value and in the history, and a caller appending to a value read
// cannot change the next one.
func TestManyVersionsReadBack(t *testing.T) {
	s := store.New()
	var want [][]byte
	for i := range 3000 {
		v := bytes.Repeat([]byte{byte(i)}, (i*37)%200)
		if i%500 == 7 {
			v = bytes.Repeat([]byte{byte(i)}, 100<<10) // larger than any chunk
		}
		s.Apply(store.Command{Op: store.Put, Key: "k", Value: v, ClientID: fmt.Sprintf("c%d", i%3), CommandID: uint64(i)})
		want = append(want, v)
		if got, _ := s.Get("k"); !bytes.Equal(got, v) {
			t.Fatalf("after put %d: Get returned %d bytes, want %d", i, len(got), len(v))
		}
	}
	got, _ := s.Get("k")
	_ = append(got, 0xff) // must not write into the history
	h := s.History("k")
	if len(h) != len(want) {
		t.Fatalf("history has %d versions, want %d", len(h), len(want))
	}
	for i, v := range h {
		if !bytes.Equal(v.Value, want[i]) || v.Version != uint64(i+1) || v.ClientID != fmt.Sprintf("c%d", i%3) || v.CommandID != uint64(i) {
			t.Fatalf("version %d: %d bytes, version %d, client %q, command %d", i, len(v.Value), v.Version, v.ClientID, v.CommandID)
		}
	}
}
