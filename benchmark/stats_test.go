package benchmark

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func msList(vals ...int) []time.Duration {
	out := make([]time.Duration, len(vals))
	for i, v := range vals {
		out[i] = time.Duration(v) * time.Millisecond
	}
	return out
}

func TestSummarizeKnownData(t *testing.T) {
	// 1 .. 1000 ms, shuffled: the q-quantile by nearest rank is q*1000 ms.
	var ls []time.Duration
	for i := 1000; i >= 1; i-- {
		ls = append(ls, time.Duration(i)*time.Millisecond)
	}
	s := Summarize(ls)
	want := Stats{Ops: 1000, Mean: 500500 * time.Microsecond, Min: time.Millisecond,
		P50: 500 * time.Millisecond, P95: 950 * time.Millisecond, P99: 990 * time.Millisecond,
		P999: 999 * time.Millisecond, Max: 1000 * time.Millisecond}
	if s != want {
		t.Fatalf("got  %+v\nwant %+v", s, want)
	}
	tests := []struct {
		data []time.Duration
		q    float64
		want time.Duration
	}{
		{msList(7), 0.5, 7 * time.Millisecond},
		{msList(7), 0.999, 7 * time.Millisecond},
		{msList(1, 2), 0.5, 1 * time.Millisecond},
		{msList(1, 2), 0.51, 2 * time.Millisecond},
		{msList(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.95, 10 * time.Millisecond},
		{msList(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.9, 9 * time.Millisecond},
		{msList(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0, 1 * time.Millisecond},
		{msList(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 1, 10 * time.Millisecond},
		{nil, 0.5, 0},
	}
	for _, tt := range tests {
		if got := Percentile(tt.data, tt.q); got != tt.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tt.data, tt.q, got, tt.want)
		}
	}
	if s := Summarize(nil); s != (Stats{}) {
		t.Errorf("empty: %+v", s)
	}
}

func exampleSummary() Summary {
	st := func(ops int, p50 time.Duration) Stats {
		return Stats{Ops: ops, Errors: 2, Reads: ops / 2, Writes: ops - ops/2, Duration: 1500 * time.Millisecond,
			Throughput: float64(ops) / 1.5, Mean: p50 + 123456, Min: p50 / 3, P50: p50, P95: 2 * p50,
			P99: 3 * p50, P999: 4*p50 + 7, Max: 5*p50 + 1}
	}
	return Summary{Label: "paxos, WAN", Concurrency: 6, Throttle: 1000.5, Backlog: 3,
		Overall: st(3000, 1234567*time.Nanosecond),
		Zones: []ZoneStats{{Zone: 1, Clients: 3, Stats: st(2000, time.Millisecond)},
			{Zone: 3, Clients: 3, Stats: st(1000, 80*time.Millisecond+1)}}}
}

func TestStatsCSVRoundTrip(t *testing.T) {
	s := exampleSummary()
	var buf bytes.Buffer
	if err := WriteStatsCSV(&buf, s); err != nil {
		t.Fatal(err)
	}
	if k, _ := Kind(strings.Split(strings.SplitN(buf.String(), "\n", 2)[0], ",")); k != KindStats {
		t.Fatalf("kind %q", k)
	}
	got, err := ReadStatsCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip:\n got  %+v\n want %+v", got, s)
	}
}

func TestStatsJSONRoundTrip(t *testing.T) {
	s := exampleSummary()
	s.FirstError = "client: HTTP 503"
	var buf bytes.Buffer
	if err := WriteSummaryJSON(&buf, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"p50_ms": 1.234567`) {
		t.Fatalf("latencies not in milliseconds:\n%s", buf.String())
	}
	got, err := ReadSummaryJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip:\n got  %+v\n want %+v", got, s)
	}
}

func TestSweepCSVRoundTrip(t *testing.T) {
	var pts []SweepPoint
	for i, c := range []int{1, 2, 4} {
		s := exampleSummary()
		s.Concurrency, s.Zones, s.Overall.Throughput = c, nil, float64(1000*(i+1))+0.25
		pts = append(pts, SweepPoint{Concurrency: c, Summary: s})
	}
	var buf bytes.Buffer
	if err := WriteSweepCSV(&buf, pts); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSweepCSV(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, pts) {
		t.Fatalf("round trip:\n got  %+v\n want %+v", got, pts)
	}
	if _, err := ReadLatencyCSV(bytes.NewReader(buf.Bytes())); err == nil || !strings.Contains(err.Error(), "sweep file") {
		t.Fatalf("sweep file read as latency file: %v", err)
	}
	if _, err := ReadSweepCSV(strings.NewReader("")); err == nil {
		t.Fatal("empty file accepted")
	}
	if _, err := ReadSweepCSV(strings.NewReader("a,b\n1,2\n")); err == nil {
		t.Fatal("unknown header accepted")
	}
	bad := strings.Replace(buf.String(), "1000.25", "fast", 1)
	if _, err := ReadSweepCSV(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "row 2") {
		t.Fatalf("bad number: %v", err)
	}
}

func TestPrintTableAligned(t *testing.T) {
	var buf bytes.Buffer
	if err := PrintTable(&buf, exampleSummary()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[4], "backlog: 3") {
		t.Fatalf("table:\n%s", buf.String())
	}
	for _, l := range lines[1:4] {
		if len(l) != len(lines[0]) {
			t.Fatalf("ragged table:\n%s", buf.String())
		}
		if !strings.HasPrefix(l, "paxos, WAN ") || !strings.HasPrefix(lines[0], "label      ") {
			t.Fatalf("label column: %q", l)
		}
	}
}

func TestProgress(t *testing.T) {
	t.Parallel() // sleeps; the allocation tests run before, alone
	line := progressLine("paxos", 16, 0.5, "5s/10s", 12000, 5*time.Second)
	if !strings.Contains(line, "paxos c=16 [###############...............]  50% 5s/10s 2400 ops/s") {
		t.Fatalf("progress line %q", line)
	}
	if line := progressLine("", 1, 7, "x", 0, 0); !strings.Contains(line, "100%") {
		t.Fatalf("overfull bar %q", line)
	}
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if TerminalWriter(f) != nil || TerminalWriter(nil) != nil {
		t.Fatal("progress bar drawn into a file")
	}
	// A run with a progress writer draws the bar and erases it (Run waits
	// for the drawing goroutine, so buf is not shared after it returns).
	var buf bytes.Buffer
	cfg := DefaultConfig()
	cfg.T = Duration(450 * time.Millisecond)
	if _, err := Run(t.Context(), Options{Config: cfg, Target: oneTarget(newFakeDB()), Progress: &buf}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "c=16 [") || !strings.HasSuffix(buf.String(), "\r") {
		t.Fatalf("progress output %q", buf.String())
	}
}
