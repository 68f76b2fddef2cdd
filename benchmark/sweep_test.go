package benchmark

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// serverDB models a server with a fixed number of workers, each taking a
// fixed service time per request: throughput rises with clients up to
// workers/service, then only latency grows (queueing).
type serverDB struct {
	slots   chan struct{}
	service time.Duration
}

func newServerDB(workers int, service time.Duration) *serverDB {
	return &serverDB{slots: make(chan struct{}, workers), service: service}
}

func (d *serverDB) serve(ctx context.Context) error {
	select {
	case d.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	time.Sleep(d.service)
	<-d.slots
	return nil
}

func (d *serverDB) Read(ctx context.Context, key int) ([]byte, bool, error) {
	return nil, false, d.serve(ctx)
}

func (d *serverDB) Write(ctx context.Context, key int, value []byte) error { return d.serve(ctx) }

// A sweep against a server of 4 workers stops once throughput stops rising,
// and names 4 clients as the knee.
func TestSweepStopsAtSaturation(t *testing.T) {
	t.Parallel() // sleeps; the allocation tests run before, alone
	// Capacity 200 ops/s. The service time is long so that the
	// oversleeping of a loaded test machine stays small beside it.
	db := newServerDB(4, 20*time.Millisecond)
	cfg := DefaultConfig()
	cfg.T = Duration(300 * time.Millisecond)
	res, err := Sweep(context.Background(), SweepOptions{}, func(ctx context.Context, c int) (Summary, error) {
		lc := cfg
		lc.Concurrency = c
		r, err := Run(ctx, Options{Config: lc, Label: "fake", Target: oneTarget(db)})
		if err != nil {
			return Summary{}, err
		}
		return r.Summary(), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	PrintSweepTable(&buf, res)
	t.Log("\n" + buf.String())
	if !res.Saturated {
		t.Fatalf("not saturated: %s", res.Reason)
	}
	// The knee is at 4 clients, the server's workers, on a quiet machine;
	// timing noise on a loaded one may move it up a level or two, but
	// never below 4, where the server cannot be full.
	if k := res.KneePoint(); k.Concurrency < 4 || k.Concurrency > 16 || k.Summary.Overall.Throughput < 160 {
		t.Fatalf("knee at %d clients, %.0f ops/s; want 4 clients and about 200 ops/s", k.Concurrency, k.Summary.Overall.Throughput)
	}
	if last := res.Points[len(res.Points)-1].Concurrency; last > 4*res.KneePoint().Concurrency {
		t.Fatalf("kept going to %d clients past saturation", last)
	}
	// Latency grows with clients past the knee.
	k := res.KneePoint().Summary.Overall
	lastS := res.Points[len(res.Points)-1].Summary.Overall
	if lastS.P50 < k.P50*3/2 {
		t.Fatalf("p50 %v at the last level vs %v at the knee", lastS.P50, k.P50)
	}
	if !strings.Contains(buf.String(), "<- knee") || !strings.Contains(buf.String(), "saturated at") {
		t.Fatalf("table:\n%s", buf.String())
	}
}

// synthetic returns a sweep level function from a table of throughput and
// p50 by concurrency.
func synthetic(thr map[int]float64, p50 map[int]time.Duration, errs map[int]int) func(context.Context, int) (Summary, error) {
	return func(_ context.Context, c int) (Summary, error) {
		s := Summary{Concurrency: c}
		s.Overall.Throughput = thr[c]
		s.Overall.Ops = int(thr[c])
		s.Overall.Errors = errs[c]
		s.Overall.P50 = p50[c]
		s.Overall.P99 = 2 * p50[c]
		return s, nil
	}
}

func TestSweepRules(t *testing.T) {
	ms := time.Millisecond
	flatP50 := map[int]time.Duration{1: ms, 2: ms, 4: ms, 8: ms, 16: 2 * ms, 32: 4 * ms, 64: 8 * ms, 128: 16 * ms}
	tests := []struct {
		name    string
		opt     SweepOptions
		thr     map[int]float64
		p50     map[int]time.Duration
		errs    map[int]int
		levels  []int // run
		knee    int   // index in the points
		reason  string
		satured bool
	}{
		{"plateau", SweepOptions{}, map[int]float64{1: 100, 2: 200, 4: 400, 8: 800, 16: 820, 32: 830, 64: 800}, flatP50, nil,
			[]int{1, 2, 4, 8, 16, 32}, 3, "throughput gained less than 5% over 800 ops/s at 8 clients for 2 levels in a row", true},
		{"slow creep is growth", SweepOptions{Max: 64}, map[int]float64{1: 100, 2: 104, 4: 108, 8: 112, 16: 116, 32: 120, 64: 124}, flatP50, nil,
			[]int{1, 2, 4, 8, 16, 32, 64}, 6, "ran every level up to 64 clients without saturating", false},
		{"one flat level is noise", SweepOptions{Max: 16}, map[int]float64{1: 100, 2: 200, 4: 190, 8: 400, 16: 800}, flatP50, nil,
			[]int{1, 2, 4, 8, 16}, 4, "ran every level", false},
		{"patience 1", SweepOptions{Patience: 1}, map[int]float64{1: 100, 2: 200, 4: 190, 8: 400}, flatP50, nil,
			[]int{1, 2, 4}, 1, "for 1 levels in a row", true},
		{"latency climbs", SweepOptions{LatencyFactor: 5}, map[int]float64{1: 100, 2: 200, 4: 400, 8: 800, 16: 1600, 32: 3200, 64: 6400}, flatP50, nil,
			[]int{1, 2, 4, 8, 16, 32, 64}, 6, "median latency 8.000 ms at 64 clients is over 5 times the 1.000 ms at 1", true},
		{"p99 limit", SweepOptions{MaxP99: 5 * ms}, map[int]float64{1: 100, 2: 200, 4: 400, 8: 800, 16: 1600, 32: 3200}, flatP50, nil,
			[]int{1, 2, 4, 8, 16, 32}, 5, "p99 latency 8.000 ms at 32 clients exceeds the limit of 5.000 ms", true},
		{"errors", SweepOptions{}, map[int]float64{1: 100, 2: 200, 4: 400}, flatP50, map[int]int{4: 40},
			[]int{1, 2, 4}, 2, "9.1% of requests failed at 4 clients (limit 1.0%)", true},
		{"explicit levels", SweepOptions{Levels: []int{3, 30, 300}}, map[int]float64{3: 100, 30: 1000, 300: 1010}, map[int]time.Duration{3: ms, 30: ms, 300: ms}, nil,
			[]int{3, 30, 300}, 1, "ran every level up to 300", false},
		{"exhaustive", SweepOptions{Exhaustive: true, Max: 16}, map[int]float64{1: 100, 2: 200, 4: 200, 8: 200, 16: 200}, flatP50, nil,
			[]int{1, 2, 4, 8, 16}, 1, "for 2 levels in a row", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Sweep(context.Background(), tt.opt, synthetic(tt.thr, tt.p50, tt.errs))
			if err != nil {
				t.Fatal(err)
			}
			var levels []int
			for _, p := range res.Points {
				levels = append(levels, p.Concurrency)
			}
			if !slices.Equal(levels, tt.levels) {
				t.Errorf("levels %v, want %v", levels, tt.levels)
			}
			if res.Knee != tt.knee || res.Saturated != tt.satured || !strings.Contains(res.Reason, tt.reason) {
				t.Errorf("knee %d saturated %v reason %q; want %d %v %q", res.Knee, res.Saturated, res.Reason, tt.knee, tt.satured, tt.reason)
			}
		})
	}
}

func TestSweepErrors(t *testing.T) {
	_, err := Sweep(context.Background(), SweepOptions{Levels: []int{4, 2}}, synthetic(nil, nil, nil))
	if err == nil || !strings.Contains(err.Error(), "must increase") {
		t.Fatalf("decreasing levels: %v", err)
	}
	calls := 0
	res, err := Sweep(context.Background(), SweepOptions{}, func(_ context.Context, c int) (Summary, error) {
		if calls++; c == 4 {
			return Summary{}, errors.New("cluster down")
		}
		return Summary{Overall: Stats{Throughput: float64(c)}}, nil
	})
	if err == nil || !strings.Contains(err.Error(), "at 4 clients: cluster down") || len(res.Points) != 2 {
		t.Fatalf("err %v, %d points", err, len(res.Points))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Sweep(ctx, SweepOptions{}, synthetic(nil, nil, nil)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
