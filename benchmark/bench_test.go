package benchmark

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/history"
)

// fakeDB is an in-memory key-value store with an optional service time and
// failure rule.
type fakeDB struct {
	mu      sync.Mutex
	data    map[int][]byte
	latency func() time.Duration
	fail    func(write bool, key int) error
}

func newFakeDB() *fakeDB { return &fakeDB{data: map[int][]byte{}} }

func (d *fakeDB) wait(ctx context.Context) error {
	if d.latency == nil {
		return nil
	}
	select {
	case <-time.After(d.latency()):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *fakeDB) Read(ctx context.Context, key int) ([]byte, bool, error) {
	if err := d.wait(ctx); err != nil {
		return nil, false, err
	}
	if d.fail != nil {
		if err := d.fail(false, key); err != nil {
			return nil, false, err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.data[key]
	return v, ok, nil
}

func (d *fakeDB) Write(ctx context.Context, key int, value []byte) error {
	if err := d.wait(ctx); err != nil {
		return err
	}
	if d.fail != nil {
		if err := d.fail(true, key); err != nil {
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.data[key] = bytes.Clone(value)
	return nil
}

func oneTarget(db DB) func(int) (Target, error) {
	return func(int) (Target, error) { return Target{Zone: 1, Node: "1.1", DB: db}, nil }
}

// Every request is recorded, and the history says what the store did: each
// read returns the value of the latest write to its key before it.
func TestRunRecordsEveryRequest(t *testing.T) {
	cfg := DefaultConfig()
	cfg.T, cfg.N, cfg.K, cfg.Concurrency, cfg.Size = 0, 1000, 20, 1, 24
	res, err := Run(context.Background(), Options{Config: cfg, Seed: 3, Label: "fake", Target: oneTarget(newFakeDB()), KeepValues: true})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary()
	if s.Overall.Ops != 1000 || s.Overall.Errors != 0 || s.Overall.Reads+s.Overall.Writes != 1000 {
		t.Fatalf("summary %+v", s.Overall)
	}
	if s.Overall.Writes < 400 || s.Overall.Writes > 600 {
		t.Fatalf("%d writes of 1000 at W=0.5", s.Overall.Writes)
	}
	var buf bytes.Buffer
	if err := res.WriteHistory(&buf); err != nil {
		t.Fatal(err)
	}
	ops, err := history.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 1000 {
		t.Fatalf("%d operations in the history", len(ops))
	}
	last := map[string][]byte{}
	wall := res.Start.UnixNano()
	for i, o := range ops {
		if o.Call < wall || o.Return < o.Call || o.Return > wall+int64(res.Duration) {
			t.Fatalf("op %d: [%d,%d] outside the run [%d,%d]", i, o.Call, o.Return, wall, wall+int64(res.Duration))
		}
		if i > 0 && o.Call < ops[i-1].Return {
			t.Fatalf("op %d called before op %d returned: one client has one request outstanding", i, i-1)
		}
		switch o.Kind {
		case history.Put:
			want := make([]byte, cfg.Size)
			FillValue(want, 3, 0, int64(i))
			if !bytes.Equal(o.Input, want) {
				t.Fatalf("op %d wrote %q, want %q", i, o.Input, want)
			}
			last[o.Key] = o.Input
		case history.Get:
			if w, ok := last[o.Key]; o.Found != ok || !bytes.Equal(o.Output, w) {
				t.Fatalf("op %d: get(%s) = %q found=%v, want %q", i, o.Key, o.Output, o.Found, w)
			}
		}
		if o.Node != "1.1" || o.Client != "0" {
			t.Fatalf("op %d: client %q node %q", i, o.Client, o.Node)
		}
	}
}

// The latency file has one row per request and reads back as written.
func TestLatencyCSVRoundTrip(t *testing.T) {
	cfg := DefaultConfig()
	cfg.T, cfg.N, cfg.Concurrency = 0, 300, 3
	db := newFakeDB()
	db.fail = func(write bool, key int) error {
		if key%7 == 0 {
			return errors.New("injected, with a comma")
		}
		return nil
	}
	res, err := Run(context.Background(), Options{Config: cfg, Seed: 1, Target: func(i int) (Target, error) {
		return Target{Zone: i + 1, Node: fmt.Sprintf("%d.1", i+1), DB: db}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := res.WriteLatencyCSV(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := ReadLatencyCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var want []Request
	for q := range res.Requests() {
		q.Value = nil
		want = append(want, q)
	}
	if len(got) != 300 || len(want) != 300 {
		t.Fatalf("%d rows read, %d requests", len(got), len(want))
	}
	errs := 0
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("row %d:\n got  %+v\n want %+v", i, got[i], want[i])
		}
		if got[i].Error != "" {
			errs++
		}
	}
	if errs == 0 {
		t.Fatal("no failed requests recorded")
	}
	if _, err := ReadStatsCSV(bytes.NewReader(buf.Bytes())); err == nil {
		t.Fatal("a latency file read as a stats file")
	}
}

// A failed request is an error, never a success (Paxi counted failed reads
// as successes), and it is not in the latency figures.
func TestFailedRequestsAreErrors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.T, cfg.N, cfg.Concurrency = 0, 500, 2
	db := newFakeDB()
	db.fail = func(write bool, key int) error {
		if !write {
			return errors.New("no answer")
		}
		return nil
	}
	res, err := Run(context.Background(), Options{Config: cfg, Target: oneTarget(db), KeepValues: true})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary()
	if s.Overall.Reads != 0 || s.Overall.Errors == 0 || s.Overall.Ops+s.Overall.Errors != 500 || s.Overall.Ops != s.Overall.Writes {
		t.Fatalf("failed reads counted: %+v", s.Overall)
	}
	if s.FirstError != "no answer" || s.ErrorRate() < 0.3 {
		t.Fatalf("first error %q, rate %v", s.FirstError, s.ErrorRate())
	}
	var buf bytes.Buffer
	res.WriteHistory(&buf)
	ops, err := history.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range ops {
		if (o.Kind == history.Get) != (o.Error == "no answer") || o.Found {
			t.Fatalf("history op %v", o)
		}
	}
}

// Requests in flight when the time is up are waited for and recorded (Paxi
// dropped them).
func TestInFlightRequestsAreWaitedFor(t *testing.T) {
	t.Parallel() // sleeps; the allocation tests run before, alone
	cfg := DefaultConfig()
	cfg.T, cfg.Concurrency = Duration(200*time.Millisecond), 4
	db := newFakeDB()
	db.latency = func() time.Duration { return 300 * time.Millisecond }
	res, err := Run(context.Background(), Options{Config: cfg, Target: oneTarget(db)})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary()
	if s.Overall.Ops != 4 || s.Overall.Errors != 0 {
		t.Fatalf("want the 4 requests sent before the deadline, all successful: %+v", s.Overall)
	}
	if res.Duration < 300*time.Millisecond || s.Overall.Min < 300*time.Millisecond {
		t.Fatalf("run ended after %v, min latency %v: in-flight requests were not waited for", res.Duration, s.Overall.Min)
	}
}

// Under a throttle the clients together issue the target rate, each request
// in its slot. (Bounds are loose enough for a loaded 2-core test machine;
// the slot arithmetic is checked exactly.)
func TestThrottleRate(t *testing.T) {
	t.Parallel() // sleeps; the allocation tests run before, alone
	cfg := DefaultConfig()
	cfg.T, cfg.Throttle, cfg.Concurrency = Duration(time.Second), 400, 4
	res, err := Run(context.Background(), Options{Config: cfg, Target: oneTarget(newFakeDB())})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary()
	// Every slot of the second is either used or counted as backlog.
	if n := int64(s.Overall.Ops) + s.Backlog; n != 400 {
		t.Fatalf("%d requests + %d backlog, want the 400 slots of 1 s at 400 ops/s", s.Overall.Ops, s.Backlog)
	}
	if n := s.Overall.Ops; n < 380 {
		t.Fatalf("%d requests in 1 s at 400 ops/s, want 400 (at least 380)", n)
	}
	// Client i's j-th request is due at (i + 4j) / 400 s.
	var late []time.Duration
	for _, c := range res.Clients {
		for j, r := range c.Records() {
			due := int64((float64(c.Client) + 4*float64(j)) * 1e9 / 400)
			if r.Scheduled != due || r.Start < due {
				t.Fatalf("client %d op %d scheduled %d started %d, due %d", c.Client, j, r.Scheduled, r.Start, due)
			}
			late = append(late, time.Duration(r.Start-due))
		}
	}
	// Slots are 10 ms apart per client; the median start is well inside.
	if p50 := Summarize(late).P50; p50 > 5*time.Millisecond {
		t.Fatalf("requests start a median %v after their slot", p50)
	}
}

// Under a throttle latency is measured from the scheduled start: a DB too
// slow for the rate shows growing latency and a backlog, not a flattering
// service time (coordinated omission).
func TestThrottleMeasuresFromScheduledStart(t *testing.T) {
	t.Parallel() // sleeps; the allocation tests run before, alone
	cfg := DefaultConfig()
	// 2 clients at 400 ops/s: each is due every 5 ms, but a request takes
	// 10 ms or more, so each client falls further behind.
	cfg.T, cfg.Throttle, cfg.Concurrency = Duration(400*time.Millisecond), 400, 2
	db := newFakeDB()
	db.latency = func() time.Duration { return 10 * time.Millisecond }
	res, err := Run(context.Background(), Options{Config: cfg, Target: oneTarget(db)})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary()
	var service []time.Duration
	for _, c := range res.Clients {
		for _, r := range c.Records() {
			service = append(service, time.Duration(r.End-r.Start))
		}
	}
	sv := Summarize(service)
	// Requests were due up to 200 ms before they were sent: the latency
	// grows far past the service time.
	if s.Overall.Max < 150*time.Millisecond || s.Overall.P50 < 3*sv.P50 {
		t.Fatalf("latency max %v p50 %v vs service time p50 %v: not measured from the scheduled start", s.Overall.Max, s.Overall.P50, sv.P50)
	}
	// 160 slots in 0.4 s, at most half of them sent.
	if n := int64(s.Overall.Ops) + s.Backlog; n != 160 || s.Backlog < 70 {
		t.Fatalf("backlog %d, sent %d: want about 80 and 80", s.Backlog, s.Overall.Ops)
	}
}

// Statistics are kept per zone as well as overall.
func TestZoneStats(t *testing.T) {
	t.Parallel() // sleeps; the allocation tests run before, alone
	cfg := DefaultConfig()
	cfg.T, cfg.N, cfg.Concurrency = 0, 600, 6
	dbs := make([]*fakeDB, 3)
	wants := []time.Duration{2 * time.Millisecond, 8 * time.Millisecond, 20 * time.Millisecond}
	for z := range dbs {
		dbs[z] = newFakeDB()
		d := wants[z]
		dbs[z].latency = func() time.Duration { return d }
	}
	res, err := Run(context.Background(), Options{Config: cfg, Target: func(i int) (Target, error) {
		z := i%3 + 1
		return Target{Zone: z, Node: fmt.Sprintf("%d.1", z), DB: dbs[z-1]}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary()
	if len(s.Zones) != 3 {
		t.Fatalf("zones %+v", s.Zones)
	}
	ops := 0
	for i, z := range s.Zones {
		// At least the DB's latency, and below the next zone's.
		if z.Zone != i+1 || z.Clients != 2 || z.P50 < wants[i] || (i < 2 && z.P50 >= wants[i+1]) {
			t.Errorf("zone %d: clients %d p50 %v, want about %v", z.Zone, z.Clients, z.P50, wants[i])
		}
		ops += z.Ops
	}
	if ops != s.Overall.Ops || s.Overall.Ops != 600 {
		t.Fatalf("zones add up to %d, overall %d", ops, s.Overall.Ops)
	}
	var buf bytes.Buffer
	if err := PrintTable(&buf, s); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + buf.String())
	if lines := bytes.Count(buf.Bytes(), []byte("\n")); lines != 5 {
		t.Fatalf("table has %d lines, want header, all and 3 zones:\n%s", lines, buf.String())
	}
}

func TestRunErrors(t *testing.T) {
	cfg := DefaultConfig()
	if _, err := Run(context.Background(), Options{Config: cfg}); err == nil {
		t.Error("no Target accepted")
	}
	if _, err := Run(context.Background(), Options{Config: cfg, Target: func(i int) (Target, error) {
		return Target{}, errors.New("unreachable")
	}}); err == nil {
		t.Error("target error ignored")
	}
	cfg.K = 0
	if _, err := Run(context.Background(), Options{Config: cfg, Target: oneTarget(newFakeDB())}); err == nil {
		t.Error("invalid config accepted")
	}
}

// Cancelling the context ends a run early and marks it interrupted.
func TestRunInterrupted(t *testing.T) {
	cfg := DefaultConfig()
	cfg.T = Duration(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res, err := Run(ctx, Options{Config: cfg, Target: oneTarget(newFakeDB())})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Duration > time.Second {
		t.Fatalf("interrupted=%v after %v", res.Interrupted, res.Duration)
	}
	// A request cut short by the end of the context is not a failure of
	// the system.
	slow := newFakeDB()
	var once sync.Once
	inFlight := make(chan struct{})
	slow.latency = func() time.Duration {
		once.Do(func() { close(inFlight) })
		return time.Hour
	}
	ctx, cancel = context.WithCancel(context.Background())
	cfg.Concurrency = 4
	go func() {
		<-inFlight
		cancel()
	}()
	res, err = Run(ctx, Options{Config: cfg, Target: oneTarget(slow)})
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for _, c := range res.Clients {
		sent += c.Len()
	}
	if s := res.Summary(); s.Overall.Errors != 0 || s.Overall.Ops != 0 || sent == 0 {
		t.Fatalf("cancelled requests counted: %+v, %d sent", s.Overall, sent)
	}
	if err := res.WriteHistory(&bytes.Buffer{}); err == nil {
		t.Fatal("history written without the read values")
	}
}

// nopDB answers instantly, so that the runner's own cost shows.
type nopDB struct{ v []byte }

func (d nopDB) Read(context.Context, int) ([]byte, bool, error) { return d.v, true, nil }
func (nopDB) Write(context.Context, int, []byte) error          { return nil }

// Recording is allocation-free, apart from the preallocated buffers and a
// run's fixed set-up.
func TestRecorderDoesNotAllocate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.T, cfg.N, cfg.Concurrency = 0, 100000, 2
	db := nopDB{v: make([]byte, 64)}
	allocs := testing.AllocsPerRun(1, func() {
		if _, err := Run(context.Background(), Options{Config: cfg, Target: oneTarget(db), KeepValues: true}); err != nil {
			t.Fatal(err)
		}
	})
	if per := allocs / float64(cfg.N); per > 0.001 {
		t.Fatalf("%.0f allocations for %d requests: %.4f per request", allocs, cfg.N, per)
	}
}

// BenchmarkRecorder measures the runner itself against an instant DB:
// generation, scheduling and recording per request.
func BenchmarkRecorder(b *testing.B) {
	for _, keep := range []bool{false, true} {
		b.Run("keepValues="+strconv.FormatBool(keep), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.T, cfg.N, cfg.Concurrency = 0, b.N, 1
			b.ReportAllocs()
			b.ResetTimer()
			if _, err := Run(context.Background(), Options{Config: cfg, Target: oneTarget(nopDB{v: make([]byte, 64)}), KeepValues: keep}); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

func TestEstimate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.T, cfg.N, cfg.Concurrency = 0, 1000, 3
	if n, _ := estimate(cfg, false); n != 334 {
		t.Errorf("N=1000 over 3 clients: %d records each", n)
	}
	cfg.T, cfg.Throttle = Duration(10*time.Second), 300
	if n, v := estimate(cfg, true); n != 1001 || v != int(math.Round(1001*0.5*64)) {
		t.Errorf("300 ops/s for 10 s over 3 clients: %d records, %d value bytes", n, v)
	}
	// An hour is not preallocated.
	cfg.T, cfg.Throttle, cfg.Concurrency = Duration(time.Hour), 0, 16
	if n, v := estimate(cfg, true); n*16 > preallocRecords || v*16 > preallocValues {
		t.Errorf("1 h over 16 clients: %d records and %d value bytes each", n, v)
	}
}
