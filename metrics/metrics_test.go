package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/metrics"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/paxos"
)

type unknownMsg struct{}

func (unknownMsg) String() string { return "unknown" }

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, metrics.Path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", metrics.Path, rec.Code, rec.Body.String())
	}
	return rec.Body.String()
}

// has fails unless the exposition holds a sample line starting with the
// metric name and its labels and ending with value.
func has(t *testing.T, out, prefix, value string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, prefix) && strings.HasSuffix(line, " "+value) {
			return
		}
	}
	t.Errorf("no sample %s... %s in:\n%s", prefix, value, grepPaxi(out))
}

func grepPaxi(out string) string {
	var b strings.Builder
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "paxi_") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func TestCountersAndState(t *testing.T) {
	id := paxi.MustID("2.1")
	state := metrics.State{Applied: 42, Waiting: 3, Leader: id, HasLeader: true,
		Ballot: paxi.NewBallot(7, id), HasBallot: true}
	m := metrics.New(id, "paxos", paxos.Messages, func(context.Context) (metrics.State, error) { return state, nil })
	for range 3 {
		m.Sent(paxos.P2a{})
	}
	m.Sent(&paxos.P2a{}) // the pointer form counts as the same type
	m.Received(paxos.P2b{})
	m.Received(paxi.Request{})
	m.Sent(unknownMsg{})
	start := time.Now().Add(-3 * time.Millisecond)
	m.Request(start, nil)
	m.Request(start, errors.New("timeout"))

	out := scrape(t, m.Handler())
	l := `{node="2.1",protocol="paxos",type="paxos.P2a",zone="2"}`
	has(t, out, "paxi_messages_sent_total"+l, "4")
	has(t, out, `paxi_messages_received_total{node="2.1",protocol="paxos",type="paxos.P2b",zone="2"}`, "1")
	has(t, out, `paxi_messages_received_total{node="2.1",protocol="paxos",type="paxi.Request",zone="2"}`, "1")
	has(t, out, `paxi_messages_sent_total{node="2.1",protocol="paxos",type="other",zone="2"}`, "1")
	has(t, out, `paxi_messages_sent_total{node="2.1",protocol="paxos",type="paxos.Heartbeat",zone="2"}`, "0")
	has(t, out, "paxi_requests_total", "2")
	has(t, out, "paxi_requests_failed_total", "1")
	has(t, out, "paxi_request_duration_seconds_count", "2")
	has(t, out, `paxi_request_duration_seconds_bucket{node="2.1",protocol="paxos",zone="2",le="0.0016"}`, "0")
	has(t, out, "paxi_commands_executed_total", "42")
	has(t, out, "paxi_requests_waiting", "3")
	has(t, out, "paxi_is_leader", "1")
	has(t, out, "paxi_ballot_round", "7")
	has(t, out, `paxi_leader_info{leader="2.1",node="2.1"`, "1")
	has(t, out, "paxi_node_up", "1")
	if !strings.Contains(out, "\ngo_goroutines ") || !strings.Contains(out, "\nprocess_cpu_seconds_total ") {
		t.Error("no Go runtime or process metrics")
	}
}

// A node whose loop does not answer in time still serves its counters, and
// says so.
func TestStateUnavailable(t *testing.T) {
	m := metrics.New(paxi.MustID("1.1"), "epaxos", nil, func(context.Context) (metrics.State, error) {
		return metrics.State{}, paxi.ErrStopped
	})
	m.Received(paxi.Reply{})
	out := scrape(t, m.Handler())
	has(t, out, "paxi_node_up", "0")
	has(t, out, `paxi_messages_received_total{node="1.1",protocol="epaxos",type="paxi.Reply",zone="1"}`, "1")
	if strings.Contains(out, "paxi_commands_executed_total") || strings.Contains(out, "paxi_is_leader") {
		t.Errorf("state metrics without a state:\n%s", grepPaxi(out))
	}
}

// A leaderless protocol reports no leader metrics.
func TestNoLeader(t *testing.T) {
	m := metrics.New(paxi.MustID("1.1"), "epaxos", nil, func(context.Context) (metrics.State, error) {
		return metrics.State{Applied: 1}, nil
	})
	out := scrape(t, m.Handler())
	if strings.Contains(out, "paxi_is_leader") || strings.Contains(out, "paxi_ballot") {
		t.Errorf("leader metrics for a protocol without a leader:\n%s", grepPaxi(out))
	}
}

func TestWrap(t *testing.T) {
	m := metrics.New(paxi.MustID("1.1"), "paxos", nil, func(context.Context) (metrics.State, error) { return metrics.State{}, nil })
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "rest "+r.Method+" "+r.URL.Path) }))
	if out := scrape(t, h); !strings.Contains(out, "paxi_requests_total") {
		t.Fatalf("GET /metrics through Wrap:\n%s", out)
	}
	for _, tc := range []struct{ method, path string }{{"PUT", "/metrics"}, {"GET", "/kv/metrics"}, {"GET", "/status"}} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if want := "rest " + tc.method + " " + tc.path; rec.Body.String() != want {
			t.Errorf("%s %s: %q, want it passed to the REST API", tc.method, tc.path, rec.Body.String())
		}
	}
}

// Counting a message or a request allocates nothing: it is on the hot path.
func TestCountingDoesNotAllocate(t *testing.T) {
	m := metrics.New(paxi.MustID("1.1"), "paxos", paxos.Messages, func(context.Context) (metrics.State, error) { return metrics.State{}, nil })
	var msg paxi.Message = paxos.P2a{}
	var other paxi.Message = unknownMsg{}
	start := time.Now()
	if n := testing.AllocsPerRun(1000, func() {
		m.Sent(msg)
		m.Received(msg)
		m.Sent(other)
		m.Request(start, nil)
	}); n != 0 {
		t.Fatalf("%v allocations per count, want 0", n)
	}
}

func BenchmarkSent(b *testing.B) {
	m := metrics.New(paxi.MustID("1.1"), "paxos", paxos.Messages, func(context.Context) (metrics.State, error) { return metrics.State{}, nil })
	var msg paxi.Message = paxos.P2b{}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Sent(msg)
		}
	})
}

func BenchmarkRequest(b *testing.B) {
	m := metrics.New(paxi.MustID("1.1"), "paxos", paxos.Messages, func(context.Context) (metrics.State, error) { return metrics.State{}, nil })
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Request(time.Now(), nil)
		}
	})
}
