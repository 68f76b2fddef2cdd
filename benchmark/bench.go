package benchmark

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ailidani/paxi-style/history"
)

// DB is what the benchmark drives: one node of a key-value service, reached
// through some client (see package benchmark/target). The runner calls a DB
// from one goroutine per client; a DB shared by several clients must be safe
// for concurrent use.
type DB interface {
	// Read reads a key. A key without a value is found == false and no
	// error; any failure (no answer, an error status, a timeout) is an
	// error, never an empty success.
	Read(ctx context.Context, key int) (value []byte, found bool, err error)
	// Write writes value to key. The DB must not keep value after it
	// returns: the runner reuses the buffer.
	Write(ctx context.Context, key int, value []byte) error
}

// Target is where one client sends its requests.
type Target struct {
	// Zone is the client's zone (numbered from 1): it picks the client's
	// mean under the "normal" distribution and groups its statistics.
	Zone int
	// Node names the node the client talks to, for the latency file and
	// the history.
	Node string
	// DB is the client's connection to that node.
	DB DB
}

// Options configure one run.
type Options struct {
	// Config is the workload.
	Config Config
	// Seed makes the run's sequence of keys and values reproducible.
	Seed uint64
	// Label names what is measured (a protocol, a configuration) in the
	// summary, tables, files and plots.
	Label string
	// Target maps a client index (0 .. Concurrency-1) to its zone, node and
	// DB. It is called once per client before the run starts.
	Target func(client int) (Target, error)
	// KeepValues keeps the values that reads returned, which the history
	// (WriteHistory) needs; without it only whether a value was found is
	// recorded, which is enough for statistics and latency files.
	KeepValues bool
	// Progress, if not nil, receives a progress bar redrawn in place a few
	// times a second (give it a terminal; see TerminalWriter).
	Progress io.Writer
}

// Record is one request as its client saw it. Times are nanoseconds since
// the start of the run on the monotonic clock (Result.Start gives the
// wall-clock origin). A record holds no pointers, so recording is a copy
// into a preallocated chunk and the garbage collector never scans records.
type Record struct {
	// Scheduled is when the request was due: under a throttle its slot in
	// the schedule, otherwise Start. Latency is End - Scheduled.
	Scheduled int64
	// Start is when the request was sent; End when its answer (or error)
	// came back.
	Start, End int64
	// Key is the key.
	Key int64
	// Size is the number of bytes written, or read (0 if nothing was
	// found).
	Size int32
	// Write is true for a write.
	Write bool
	// Found is true for a read that found a value.
	Found bool
	// err is 1 + the index of the request's error in ClientLog.errs, or 0.
	err int32
	// cancelled marks a request cut short because the run's context
	// ended: an error in the history (its outcome is unknown), but not a
	// failure of the system, so not in the statistics.
	cancelled bool
	// vchunk and voff locate a kept read value in ClientLog.values.
	vchunk, voff int32
}

// Latency is the request's latency, from its scheduled start.
func (r Record) Latency() time.Duration { return time.Duration(r.End - r.Scheduled) }

// ClientLog is everything one client recorded.
type ClientLog struct {
	// Client is the client's index; Zone and Node are from its Target.
	Client int
	Zone   int
	Node   string
	// records are the client's requests in the order it sent them, in
	// chunks (see Records).
	records [][]Record
	// values holds the kept read values in chunks, which grow without
	// copying what is already there.
	values [][]byte
	errs   []error
}

// Records iterates over the client's requests in the order it sent them;
// the i-th wrote the value FillValue(seed, Client, i) if it was a write.
func (c *ClientLog) Records() iter.Seq2[int, Record] {
	return func(yield func(int, Record) bool) {
		i := 0
		for _, chunk := range c.records {
			for _, r := range chunk {
				if !yield(i, r) {
					return
				}
				i++
			}
		}
	}
}

// Len returns the number of requests the client made.
func (c *ClientLog) Len() int {
	n := 0
	for _, chunk := range c.records {
		n += len(chunk)
	}
	return n
}

// Err returns the error of a record of this client, or nil.
func (c *ClientLog) Err(r Record) error {
	if r.err == 0 {
		return nil
	}
	return c.errs[r.err-1]
}

// Result is a finished run: every request of every client.
type Result struct {
	// Label, Config and Seed are from the Options; the seed recomputes
	// the values written (FillValue).
	Label  string
	Config Config
	Seed   uint64
	// Start is the wall-clock time at which the run started.
	Start time.Time
	// Duration is the time from the start to the last answer (requests in
	// flight when the time was up were waited for).
	Duration time.Duration
	// Clients has one log per client.
	Clients []ClientLog
	// Backlog counts requests scheduled by the throttle within the run but
	// never sent, because their client was still waiting for earlier ones.
	Backlog int64
	// Interrupted is set when the context ended the run early.
	Interrupted bool

	keepValues bool
}

// worker is a client's state during a run; done is read by the progress
// bar while the client records.
type worker struct {
	log ClientLog
	// Records go into cur; a full cur moves to full and a new chunk is
	// started, so recording never copies what it has recorded (a copy of
	// a large slice would stall the client, which a throttled run would
	// count as latency).
	cur        []Record
	full       [][]Record
	keepValues bool
	value      []byte
	db         DB
	gen        *Generator
	timer      *time.Timer
	done       atomic.Int64
	_          [64]byte // keep done counters of neighbouring workers on separate cache lines
}

// Chunk sizes past the preallocated first chunks.
const (
	recordChunk = 1 << 14 // records (896 KiB)
	valueChunk  = 1 << 20 // bytes
)

// record appends a record, starting a new chunk when the current one is
// full.
func (w *worker) record(r Record) {
	if len(w.cur) == cap(w.cur) {
		w.full = append(w.full, w.cur)
		w.cur = make([]Record, 0, recordChunk)
	}
	w.cur = append(w.cur, r)
}

// keep copies a read value into the value chunks and notes where in r.
func (w *worker) keep(r *Record, v []byte) {
	n := len(w.log.values)
	if n == 0 || len(w.log.values[n-1])+len(v) > cap(w.log.values[n-1]) {
		w.log.values = append(w.log.values, make([]byte, 0, max(valueChunk, len(v))))
		n++
	}
	c := &w.log.values[n-1]
	r.vchunk, r.voff = int32(n-1), int32(len(*c))
	*c = append(*c, v...)
}

// Run runs the workload of opt.Config: Concurrency clients, each sending one
// request at a time to its Target, closed-loop or on the throttle's
// schedule, until T has passed (requests then in flight are waited for, not
// dropped) or N requests were sent, or ctx ends. It returns every request it
// made; Result.Summary computes the statistics.
func Run(ctx context.Context, opt Options) (*Result, error) {
	cfg := opt.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opt.Target == nil {
		return nil, errors.New("benchmark: Options.Target is nil")
	}
	capacity, valueCap := estimate(cfg, opt.KeepValues)
	workers := make([]*worker, cfg.Concurrency)
	for i := range workers {
		t, err := opt.Target(i)
		if err != nil {
			return nil, fmt.Errorf("benchmark: client %d: %w", i, err)
		}
		if t.DB == nil {
			return nil, fmt.Errorf("benchmark: client %d: target has no DB", i)
		}
		g, err := NewGenerator(cfg, opt.Seed, i, t.Zone)
		if err != nil {
			return nil, fmt.Errorf("benchmark: client %d (zone %d): %w", i, t.Zone, err)
		}
		w := &worker{db: t.DB, gen: g, value: make([]byte, cfg.Size), keepValues: opt.KeepValues,
			cur: make([]Record, 0, capacity)}
		w.log = ClientLog{Client: i, Zone: t.Zone, Node: t.Node}
		if opt.KeepValues && valueCap > 0 {
			w.log.values = [][]byte{make([]byte, 0, valueCap)}
		}
		workers[i] = w
	}

	res := &Result{Label: opt.Label, Config: cfg, Seed: opt.Seed, keepValues: opt.KeepValues}
	var (
		wg     sync.WaitGroup
		issued atomic.Int64
	)
	res.Start = time.Now()
	start := res.Start
	for i, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx, cfg, opt.Seed, i, start, &issued)
		}()
	}
	stopBar := startProgress(opt.Progress, opt.Label, cfg, start, workers)
	wg.Wait()
	res.Duration = time.Since(start)
	stopBar()
	res.Interrupted = ctx.Err() != nil
	for _, w := range workers {
		if w.timer != nil {
			w.timer.Stop()
		}
		w.log.records = append(w.full, w.cur)
		res.Clients = append(res.Clients, w.log)
		res.Backlog += w.backlog(cfg)
	}
	return res, nil
}

// Bounds on what Run preallocates over all clients, so that a long run
// (-T 1h) does not reserve gigabytes up front; past them the buffers grow
// as needed.
const (
	preallocRecords = 1 << 18  // 14 MiB of records
	preallocValues  = 64 << 20 // bytes of read values
)

// estimate guesses how many requests a client will make, to preallocate
// its records (appending past the guess still works, at the cost of a
// copy): exact for N, from the rate under a throttle, and from a generous
// 20,000 ops/s over all clients for a closed-loop timed run.
func estimate(cfg Config, keepValues bool) (records, valueBytes int) {
	c := float64(cfg.Concurrency)
	var n float64
	switch {
	case cfg.T == 0:
		n = math.Ceil(float64(cfg.N) / c)
	case cfg.Throttle > 0:
		n = math.Ceil(time.Duration(cfg.T).Seconds()*cfg.Throttle/c) + 1
	default:
		n = time.Duration(cfg.T).Seconds() * 20000 / c
	}
	records = int(min(max(n, 16), max(preallocRecords/c, 16)))
	if keepValues {
		valueBytes = int(min(float64(records)*(1-cfg.W)*float64(cfg.Size), preallocValues/c))
	}
	return records, valueBytes
}

// run is one client's loop. Recording a request is an append of a Record
// to a preallocated chunk (a new chunk every 16384 requests past the
// estimate); the only allocations per request are the DB's.
func (w *worker) run(ctx context.Context, cfg Config, seed uint64, i int, start time.Time, issued *atomic.Int64) {
	deadline := int64(cfg.T)
	throttled := cfg.Throttle > 0
	for j := int64(0); ; j++ {
		if deadline == 0 && issued.Add(1) > int64(cfg.N) {
			return
		}
		now := int64(time.Since(start))
		sched := now
		if throttled {
			sched = w.slot(cfg, i, j)
			if deadline > 0 && sched >= deadline {
				return
			}
			if sched > now {
				if !w.sleep(ctx, time.Duration(sched-now)) {
					return
				}
				now = int64(time.Since(start))
			}
		}
		if (deadline > 0 && now >= deadline) || ctx.Err() != nil {
			return
		}
		op := w.gen.Next(time.Duration(now))
		rec := Record{Scheduled: sched, Start: now, Key: int64(op.Key), Write: op.Write}
		var err error
		if op.Write {
			FillValue(w.value, seed, i, j)
			err = w.db.Write(ctx, op.Key, w.value)
			rec.Size = int32(len(w.value))
		} else {
			var v []byte
			v, rec.Found, err = w.db.Read(ctx, op.Key)
			if err == nil && rec.Found {
				rec.Size = int32(len(v))
				if w.keepValues {
					w.keep(&rec, v)
				}
			}
		}
		rec.End = int64(time.Since(start))
		if err != nil {
			rec.Found, rec.Size = false, 0
			w.log.errs = append(w.log.errs, err)
			rec.err = int32(len(w.log.errs))
			rec.cancelled = ctx.Err() != nil && errors.Is(err, ctx.Err())
		}
		w.record(rec)
		w.done.Store(j + 1)
	}
}

// slot is the scheduled start of client i's j-th request: the throttle's
// rate split evenly over the clients, their slots interleaved so that
// requests are spread evenly in time rather than sent in bursts.
func (w *worker) slot(cfg Config, i int, j int64) int64 {
	return int64((float64(i) + float64(j)*float64(cfg.Concurrency)) * float64(time.Second) / cfg.Throttle)
}

// backlog counts the client's slots before the deadline that it never used.
func (w *worker) backlog(cfg Config) int64 {
	if cfg.Throttle <= 0 || cfg.T <= 0 {
		return 0
	}
	sent := int64(w.log.Len())
	// Slots j with slot(j) < T: j < (T*rate - i) / C.
	due := int64(math.Ceil((time.Duration(cfg.T).Seconds()*cfg.Throttle - float64(w.log.Client)) / float64(cfg.Concurrency)))
	return max(due-sent, 0)
}

// sleep waits d or until ctx ends (false), reusing one timer per client.
func (w *worker) sleep(ctx context.Context, d time.Duration) bool {
	if w.timer == nil {
		w.timer = time.NewTimer(d)
	} else {
		w.timer.Reset(d)
	}
	select {
	case <-ctx.Done():
		return false
	case <-w.timer.C:
		return true
	}
}

// Request is one request in the form written to latency files and
// histories.
type Request struct {
	// Client, Zone and Node say who sent it where.
	Client, Zone int
	Node         string
	// Op is "get" or "put" (history.Get, history.Put).
	Op string
	// Key is the key; Size the bytes written or read.
	Key, Size int
	// Found is true for a read that found a value.
	Found bool
	// Scheduled, Start and End are wall-clock Unix nanoseconds.
	Scheduled, Start, End int64
	// Latency is End - Scheduled.
	Latency time.Duration
	// Error is the failure, or "".
	Error string
	// Value is the value written, or read if values were kept; it is only
	// valid until the iteration moves on.
	Value []byte
}

// Requests iterates over every request, client by client, in the order
// each client sent them.
func (r *Result) Requests() iter.Seq[Request] {
	return func(yield func(Request) bool) {
		base := r.Start.UnixNano()
		buf := make([]byte, r.Config.Size)
		for ci := range r.Clients {
			c := &r.Clients[ci]
			for j, rec := range c.Records() {
				q := Request{Client: c.Client, Zone: c.Zone, Node: c.Node, Op: history.Get,
					Key: int(rec.Key), Size: int(rec.Size), Found: rec.Found,
					Scheduled: base + rec.Scheduled, Start: base + rec.Start, End: base + rec.End,
					Latency: rec.Latency()}
				if rec.Write {
					q.Op = history.Put
					FillValue(buf, r.Seed, c.Client, int64(j))
					q.Value = buf
				} else if rec.Found && r.keepValues {
					q.Value = c.values[rec.vchunk][rec.voff : rec.voff+rec.Size]
				}
				if err := c.Err(rec); err != nil {
					q.Error = err.Error()
				}
				if !yield(q) {
					return
				}
			}
		}
	}
}

// WriteHistory writes every request as a history.Operation, one JSON line
// each, for the linearizability checker: Call and Return are the wall-clock
// send and answer times in nanoseconds, and failed requests carry their
// error (a failed write may or may not have taken effect). It needs the
// values reads returned, so the run must have had KeepValues set.
func (r *Result) WriteHistory(w io.Writer) error {
	if !r.keepValues {
		return errors.New("benchmark: the run did not keep read values (Options.KeepValues); its history would be wrong")
	}
	hw := history.NewWriter(w)
	var err error
	r.Requests()(func(q Request) bool {
		op := history.Operation{Client: strconv.Itoa(q.Client), Kind: q.Op, Key: strconv.Itoa(q.Key),
			Call: q.Start, Return: q.End, Node: q.Node, Error: q.Error}
		if q.Op == history.Put {
			op.Input = q.Value
		} else {
			op.Output, op.Found = q.Value, q.Found
		}
		err = hw.Write(op)
		return err == nil
	})
	if err != nil {
		return err
	}
	return hw.Flush()
}

// Summary computes the statistics of the run, overall and per zone.
func (r *Result) Summary() Summary {
	s := Summary{Label: r.Label, Concurrency: len(r.Clients), Throttle: r.Config.Throttle, Backlog: r.Backlog}
	type acc struct {
		lat                   []time.Duration
		errors, reads, writes int
		clients               int
	}
	zones := map[int]*acc{}
	var all acc
	for ci := range r.Clients {
		c := &r.Clients[ci]
		z := zones[c.Zone]
		if z == nil {
			z = &acc{}
			zones[c.Zone] = z
		}
		z.clients++
		for _, rec := range c.Records() {
			if rec.cancelled {
				continue
			}
			if rec.err != 0 {
				z.errors++
				if s.FirstError == "" {
					s.FirstError = c.Err(rec).Error()
				}
				continue
			}
			z.lat = append(z.lat, rec.Latency())
			if rec.Write {
				z.writes++
			} else {
				z.reads++
			}
		}
	}
	stats := func(a *acc) Stats {
		st := Summarize(a.lat)
		st.Errors, st.Reads, st.Writes, st.Duration = a.errors, a.reads, a.writes, r.Duration
		if r.Duration > 0 {
			st.Throughput = float64(st.Ops) / r.Duration.Seconds()
		}
		return st
	}
	ids := make([]int, 0, len(zones))
	for z := range zones {
		ids = append(ids, z)
	}
	slices.Sort(ids)
	for _, id := range ids {
		z := zones[id]
		all.lat = append(all.lat, z.lat...)
		all.errors += z.errors
		all.reads += z.reads
		all.writes += z.writes
		s.Zones = append(s.Zones, ZoneStats{Zone: id, Clients: z.clients, Stats: stats(z)})
	}
	s.Overall = stats(&all)
	return s
}
