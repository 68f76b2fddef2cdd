package checker_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ailidani/paxi-style/checker"
	"github.com/ailidani/paxi-style/history"
	"github.com/ailidani/paxi-style/store"
)

// v is a put version; d a delete.
func v(n uint64, value, client string, cmd uint64) store.Version {
	return store.Version{Version: n, Value: []byte(value), ClientID: client, CommandID: cmd}
}

func d(n uint64, client string, cmd uint64) store.Version {
	return store.Version{Version: n, Deleted: true, ClientID: client, CommandID: cmd}
}

// proposals is a client history proposing a=1, a=2, a=3, delete a, b=1.
var proposals = []history.Operation{
	put("c1", "a", "1", 0, 10), put("c1", "a", "2", 20, 30), failed(put("c2", "a", "3", 0, 10)),
	del("c1", "a", 40, 50), put("c1", "b", "1", 0, 10), get("c3", "a", "9", 0, 10),
}

func TestConsensus(t *testing.T) {
	a1, a2, a3 := v(1, "1", "c1", 1), v(2, "2", "c1", 2), v(3, "3", "c2", 1)
	tests := []struct {
		name     string
		replicas map[string]map[string][]store.Version
		clients  []history.Operation
		// want lists "kind key replica position" of each violation.
		want []string
	}{
		{
			name: "identical",
			replicas: map[string]map[string][]store.Version{
				"1.1": {"a": {a1, a2}}, "1.2": {"a": {a1, a2}}, "1.3": {"a": {a1, a2}},
			},
			clients: proposals,
		},
		{
			name: "prefixes of different lengths",
			replicas: map[string]map[string][]store.Version{
				"1.1": {"a": {a1, a2, a3, d(4, "c1", 3)}, "b": {v(1, "1", "c1", 4)}},
				"1.2": {"a": {a1}},
				"1.3": {"a": {a1, a2}, "b": {}},
			},
			clients: proposals,
		},
		{
			name: "divergence",
			replicas: map[string]map[string][]store.Version{
				"1.1": {"a": {a1, a2, a3}},
				"1.2": {"a": {a1, a3, a2}},
				"1.3": {"a": {a1, a2}},
			},
			clients: proposals,
			want:    []string{"agreement a 1.1 1", "agreement a 1.2 1"},
		},
		{
			name: "same value, different command",
			replicas: map[string]map[string][]store.Version{
				"1.1": {"a": {a1, a2}}, "1.2": {"a": {a1, v(2, "2", "c9", 2)}},
			},
			clients: proposals,
			want:    []string{"agreement a 1.1 1"},
		},
		{
			name: "delete against a put of nothing",
			replicas: map[string]map[string][]store.Version{
				"1.1": {"a": {d(1, "", 0)}}, "1.2": {"a": {v(1, "", "", 0)}},
			},
			want: []string{"agreement a 1.1 0"},
		},
		{
			name: "write applied twice",
			replicas: map[string]map[string][]store.Version{
				"1.1": {"a": {a1, a2, v(3, "1", "c1", 1)}},
				"1.2": {"a": {a1, a2}},
			},
			clients: proposals,
			want:    []string{"integrity a 1.1 2"},
		},
		{
			name: "anonymous writes and reused ids are not duplicates",
			replicas: map[string]map[string][]store.Version{
				"1.1": {"a": {v(1, "1", "", 0), v(2, "1", "", 0), a1, v(4, "2", "c1", 1)}},
			},
			clients: proposals,
		},
		{
			name: "write nobody proposed",
			replicas: map[string]map[string][]store.Version{
				"1.1": {"a": {a1, v(2, "9", "c3", 1)}, "b": {d(1, "c1", 7)}},
				"1.2": {"a": {a1}},
			},
			clients: proposals,
			want:    []string{"validity a 1.1 1", "validity b 1.1 0"},
		},
		{
			name: "no client history: validity skipped",
			replicas: map[string]map[string][]store.Version{
				"1.1": {"a": {v(1, "9", "c3", 1)}},
			},
		},
		{
			name: "empty client history: nothing was proposed",
			replicas: map[string]map[string][]store.Version{
				"1.1": {"a": {v(1, "9", "c3", 1)}},
			},
			clients: []history.Operation{},
			want:    []string{"validity a 1.1 0"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := checker.Consensus(tc.replicas, tc.clients)
			var got []string
			for _, x := range rep.Violations {
				got = append(got, strings.Join([]string{string(x.Kind), x.Key, x.Replica, strconv.Itoa(x.Position)}, " "))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("violations %q, want %q\n%s", got, tc.want, rep)
			}
			if rep.Ok() != (len(tc.want) == 0) {
				t.Errorf("Ok() = %v", rep.Ok())
			}
			if rep.ValidityChecked != (tc.clients != nil) {
				t.Errorf("ValidityChecked = %v", rep.ValidityChecked)
			}
		})
	}
}

// A violation names both versions, so that it can be acted on.
func TestViolationString(t *testing.T) {
	rep := checker.Consensus(map[string]map[string][]store.Version{
		"1.1": {"a": {v(1, "1", "c1", 1), v(2, "2", "c1", 2)}},
		"1.2": {"a": {v(1, "1", "c1", 1), d(2, "c2", 5)}},
	}, nil)
	if len(rep.Violations) != 1 {
		t.Fatalf("%s", rep)
	}
	x := rep.Violations[0]
	if x.Other != "1.2" || x.OtherPosition != 1 || !x.OtherVersion.Deleted || string(x.Version.Value) != "2" {
		t.Errorf("violation %+v", x)
	}
	want := `agreement: key "a" position 1: replica 1.1 has put "2" by c1#2, replica 1.2 has delete by c2#5`
	if x.String() != want {
		t.Errorf("String() = %q, want %q", x.String(), want)
	}
	if rep.Replicas != 2 || rep.Keys != 1 || rep.Versions != 4 {
		t.Errorf("counts: %+v", rep)
	}
}
