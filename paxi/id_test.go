package paxi_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/ailidani/paxi-style/paxi"
)

func TestParseID(t *testing.T) {
	tests := []struct {
		in         string
		zone, node int
		err        bool
	}{
		{"1.2", 1, 2, false},
		{"3.14", 3, 14, false},
		{"7", 1, 7, false}, // Paxi's bare node numbers
		{"65535.65535", 65535, 65535, false},
		{"0.1", 0, 0, true},
		{"1.0", 0, 0, true},
		{"1.2.3", 0, 0, true},
		{"a.b", 0, 0, true},
		{"", 0, 0, true},
		{"1.65536", 0, 0, true},
		{"-1.2", 0, 0, true},
	}
	for _, tt := range tests {
		id, err := paxi.ParseID(tt.in)
		if tt.err {
			if !errors.Is(err, paxi.ErrBadID) {
				t.Errorf("ParseID(%q) = %v, %v; want ErrBadID", tt.in, id, err)
			}
			continue
		}
		if err != nil || id.Zone() != tt.zone || id.Node() != tt.node {
			t.Errorf("ParseID(%q) = %v (%d.%d), %v", tt.in, id, id.Zone(), id.Node(), err)
		}
	}
}

func TestIDTextRoundTrip(t *testing.T) {
	m := map[paxi.ID]string{paxi.MustID("2.3"): "x", paxi.MustID("1.10"): "y"}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"1.10":"y","2.3":"x"}` {
		t.Errorf("JSON = %s", b)
	}
	var back map[paxi.ID]string
	if err := json.Unmarshal(b, &back); err != nil || len(back) != 2 || back[paxi.MustID("2.3")] != "x" {
		t.Errorf("round trip = %v, %v", back, err)
	}
}

func TestIDOrder(t *testing.T) {
	ids := []paxi.ID{paxi.MustID("2.1"), paxi.MustID("1.10"), paxi.MustID("1.2")}
	paxi.SortIDs(ids)
	want := []paxi.ID{paxi.MustID("1.2"), paxi.MustID("1.10"), paxi.MustID("2.1")}
	if !slices.Equal(ids, want) {
		t.Errorf("sorted = %v, want %v", ids, want)
	}
}

func TestBallotOrderAndOwner(t *testing.T) {
	a, b := paxi.MustID("1.1"), paxi.MustID("2.1")
	b1 := paxi.Ballot(0).Next(a)
	b2 := b1.Next(b)
	b3 := paxi.NewBallot(1, b)
	if b1.Round() != 1 || b1.ID() != a || b2.Round() != 2 || b2.ID() != b {
		t.Fatalf("Next: %v %v", b1, b2)
	}
	if !(b1 < b3 && b3 < b2) {
		t.Errorf("order: want 1.1.1 < 1.2.1 < 2.2.1, got %v %v %v", b1, b3, b2)
	}
	if b3.String() != "1.2.1" {
		t.Errorf("String = %q", b3.String())
	}
}
