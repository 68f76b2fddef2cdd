package benchmark

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DB is what the benchmark drives. Each client goroutine gets its own DB from
// the factory given to Run, so implementations need not be safe for
// concurrent use.
type DB interface {
	// Read reads a key; a key without a value is not an error.
	Read(ctx context.Context, key int) ([]byte, error)
	// Write writes value to a key.
	Write(ctx context.Context, key int, value []byte) error
}

// Result is the outcome of one benchmark run.
type Result struct {
	// Concurrency is the number of clients.
	Concurrency int
	// Ops is the number of operations that succeeded; Errors failed.
	Ops, Errors int
	// Reads and Writes split Ops.
	Reads, Writes int
	// Duration is the wall time of the run.
	Duration time.Duration
	// Throughput is Ops per second.
	Throughput float64
	// Latency summarises the latency of successful operations.
	Latency Stats
	// FirstError is the first failure seen, if any.
	FirstError error
}

// String prints the result on one line.
func (r Result) String() string {
	return fmt.Sprintf("clients=%d ops=%d errors=%d time=%.2fs throughput=%.0f ops/s latency %v",
		r.Concurrency, r.Ops, r.Errors, r.Duration.Seconds(), r.Throughput, r.Latency)
}

// Run runs the workload of cfg with cfg.Concurrency closed-loop clients, each
// using the DB newDB returns for it, until cfg.T has passed or cfg.N
// operations were issued, or ctx ends. Keys and values come from seed, so a
// run's sequence of operations is reproducible.
func Run(ctx context.Context, cfg Config, seed uint64, newDB func(client int) (DB, error)) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	dbs := make([]DB, cfg.Concurrency)
	for i := range dbs {
		db, err := newDB(i)
		if err != nil {
			return Result{}, fmt.Errorf("benchmark: client %d: %w", i, err)
		}
		dbs[i] = db
	}
	if cfg.T > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(cfg.T))
		defer cancel()
	}
	var (
		issued  atomic.Int64 // operations handed out, for N
		order   atomic.Int64 // next key of the "order" distribution
		wg      sync.WaitGroup
		workers = make([]worker, cfg.Concurrency)
	)
	start := time.Now()
	for i := range workers {
		w := &workers[i]
		w.rng = rand.New(rand.NewPCG(seed, uint64(i)))
		w.value = make([]byte, cfg.Size)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if cfg.T == 0 && issued.Add(1) > int64(cfg.N) {
					return
				}
				var key int
				if cfg.Distribution == "order" {
					key = int(order.Add(1)-1) % cfg.K
				} else {
					key = w.rng.IntN(cfg.K)
				}
				write := w.rng.Float64() < cfg.W
				t0 := time.Now()
				var err error
				if write {
					fillValue(w.value, w.rng)
					err = dbs[i].Write(ctx, key, w.value)
				} else {
					_, err = dbs[i].Read(ctx, key)
				}
				lat := time.Since(t0)
				switch {
				case err == nil:
					w.latencies = append(w.latencies, lat)
					if write {
						w.writes++
					} else {
						w.reads++
					}
				case ctx.Err() != nil && errors.Is(err, ctx.Err()):
					// The run ended while this request was in flight: it
					// is neither a success nor a failure of the system.
				default:
					w.errors++
					if w.firstErr == nil {
						w.firstErr = err
					}
				}
			}
		}()
	}
	wg.Wait()
	res := Result{Concurrency: cfg.Concurrency, Duration: time.Since(start)}
	var all []time.Duration
	for _, w := range workers {
		all = append(all, w.latencies...)
		res.Reads += w.reads
		res.Writes += w.writes
		res.Errors += w.errors
		if res.FirstError == nil {
			res.FirstError = w.firstErr
		}
	}
	res.Ops = res.Reads + res.Writes
	res.Throughput = float64(res.Ops) / res.Duration.Seconds()
	res.Latency = Summarize(all)
	return res, nil
}

type worker struct {
	rng           *rand.Rand
	value         []byte
	latencies     []time.Duration
	reads, writes int
	errors        int
	firstErr      error
}

// fillValue writes printable random bytes, so values are readable in curl
// output and histories.
func fillValue(b []byte, rng *rand.Rand) {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
}

// KeyName formats a benchmark key as the string the REST API sees.
func KeyName(key int) string { return strconv.Itoa(key) }
