package fault_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/fault"
	"github.com/ailidani/paxi-style/paxi"
)

const text = `
# a leader failure, then a zone partition
at 10s crash leader for 3s
at 12s partition zone 2
at 12s partition 1.1 1.2 | 1.3
at 13s isolate follower
at 15s drop 1.1 -> 1.2 for 3s
at 16s slow leader -> 2.1 50ms
at 17s flaky 1.1 -> 1.2 0.3 for 1s
at 18s restart 1.3
at 20s heal
`

const jsonForm = `[
 {"at": "10s", "action": "crash", "nodes": ["leader"], "for": "3s"},
 {"at": "12s", "action": "partition", "zones": [2]},
 {"at": "12s", "action": "partition", "groups": [["1.1", "1.2"], ["1.3"]]},
 {"at": "13s", "action": "isolate", "nodes": ["follower"]},
 {"at": "15s", "action": "drop", "from": "1.1", "to": "1.2", "for": "3s"},
 {"at": "16s", "action": "slow", "from": "leader", "to": "2.1", "delay": "50ms"},
 {"at": "17s", "action": "flaky", "from": "1.1", "to": "1.2", "p": 0.3, "for": "1s"},
 {"at": "18s", "action": "restart", "nodes": ["1.3"]},
 {"at": "20s", "action": "heal"}
]`

func TestTextAndJSONAgree(t *testing.T) {
	a, err := fault.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	b, err := fault.Parse([]byte(jsonForm))
	if err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Fatalf("text and JSON differ:\n%s\n%s", a, b)
	}
	// The printed form parses back to itself.
	c, err := fault.Parse([]byte(a.String()))
	if err != nil || c.String() != a.String() {
		t.Fatalf("round trip: %v\n%s", err, c)
	}
	if a.End() != 20*time.Second || len(a) != 9 {
		t.Fatalf("end %v, %d actions", a.End(), len(a))
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"crash leader", `line 1: "crash leader": want "at <time>`},
		{"\nat x crash leader", `line 2: "at x crash leader": bad duration "x"`},
		{"at 1s explode 1.1", `unknown action "explode"`},
		{"at 1s crash", "crash needs a node"},
		{"at 1s crash 9", `node 9`}, // parsed as 1.9: valid ID; checked when applied
		{"at 1s crash boss", `bad node "boss"`},
		{"at 1s drop 1.1 1.2", `want "drop FROM -> TO ..."`},
		{"at 1s flaky 1.1 -> 1.2 2", `bad probability "2"`},
		{"at 1s slow 1.1 -> 1.2", "slow needs a delay"},
		{"at 1s partition", "partition needs groups"},
		{"at 1s heal now", "heal takes no arguments"},
		{`[{"at": "1s", "action": "crash", "nodez": ["1.1"]}]`, `unknown field "nodez"`},
		{`[{"at": "1s", "action": "crash"}]`, "element 0: crash needs a node"},
	}
	for _, tt := range tests {
		_, err := fault.Parse([]byte(tt.in))
		if tt.want == "node 9" {
			if err != nil {
				t.Errorf("%q: %v", tt.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

// recorder is an Injector that records calls.
type recorder struct {
	nodes  []paxi.ID
	leader paxi.ID
	calls  []string
}

func (r *recorder) Nodes() []paxi.ID        { return r.nodes }
func (r *recorder) Leader() (paxi.ID, bool) { return r.leader, r.leader != 0 }
func (r *recorder) Crash(id paxi.ID, d time.Duration) error {
	r.calls = append(r.calls, fmt.Sprintf("crash %v %v", id, d))
	return nil
}
func (r *recorder) Restart(id paxi.ID) error {
	r.calls = append(r.calls, fmt.Sprintf("restart %v", id))
	return nil
}
func (r *recorder) Drop(from, to paxi.ID, d time.Duration) error {
	r.calls = append(r.calls, fmt.Sprintf("drop %v %v %v", from, to, d))
	return nil
}
func (r *recorder) Slow(from, to paxi.ID, delay, d time.Duration) error {
	r.calls = append(r.calls, fmt.Sprintf("slow %v %v %v %v", from, to, delay, d))
	return nil
}
func (r *recorder) Flaky(from, to paxi.ID, p float64, d time.Duration) error {
	r.calls = append(r.calls, fmt.Sprintf("flaky %v %v %g %v", from, to, p, d))
	return nil
}
func (r *recorder) Heal() error { r.calls = append(r.calls, "heal"); return nil }

func apply(t *testing.T, line string, r *recorder) []string {
	t.Helper()
	s, err := fault.Parse([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	r.calls = nil
	for _, a := range s {
		if err := a.Apply(r); err != nil {
			t.Fatal(err)
		}
	}
	return r.calls
}

func TestApplyResolvesRolesAndZones(t *testing.T) {
	ids := []paxi.ID{paxi.MustID("1.1"), paxi.MustID("1.2"), paxi.MustID("2.1")}
	r := &recorder{nodes: ids, leader: paxi.MustID("1.2")}
	tests := []struct {
		line string
		want []string
	}{
		{"at 1s crash leader for 2s", []string{"crash 1.2 2s"}},
		{"at 1s restart follower", []string{"restart 1.1"}},
		{"at 1s partition zone 2", []string{"drop 2.1 1.1 0s", "drop 2.1 1.2 0s", "drop 1.1 2.1 0s", "drop 1.2 2.1 0s"}},
		{"at 1s isolate leader for 1s", []string{"drop 1.2 1.1 1s", "drop 1.2 2.1 1s", "drop 1.1 1.2 1s", "drop 2.1 1.2 1s"}},
		{"at 1s partition 1.1 | 1.2 2.1", []string{"drop 1.1 1.2 0s", "drop 1.1 2.1 0s", "drop 1.2 1.1 0s", "drop 2.1 1.1 0s"}},
		{"at 1s slow leader -> 2.1 5ms", []string{"slow 1.2 2.1 5ms 0s"}},
		{"at 1s flaky 2.1 -> leader 0.5", []string{"flaky 2.1 1.2 0.5 0s"}},
		{"at 1s heal", []string{"heal"}},
	}
	for _, tt := range tests {
		if got := apply(t, tt.line, r); !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got  %q\n want %q", tt.line, got, tt.want)
		}
	}
}

func TestApplyErrors(t *testing.T) {
	r := &recorder{nodes: []paxi.ID{paxi.MustID("1.1"), paxi.MustID("1.2")}}
	for _, line := range []string{
		"at 1s crash leader",     // no leader known
		"at 1s crash 3.3",        // not in the cluster
		"at 1s drop 1.1 -> 1.1",  // same node
		"at 1s partition zone 5", // empty zone
	} {
		s, err := fault.Parse([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		if err := s[0].Apply(r); err == nil {
			t.Errorf("%s: applied without error", line)
		}
	}
}
