package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/ailidani/paxi-style/fault"
	"github.com/ailidani/paxi-style/history"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/store"
)

// Options describe one simulated run: the network, the random faults and
// the scheduled ones, the client workload, and the two phases. In the
// safety phase faults and clients run together; then every fault is
// healed, and in the liveness phase every request must complete.
type Options struct {
	Network  Network
	Faults   Faults
	Schedule fault.Schedule
	Workload Workload
	// Safety is the length of the phase with faults.
	Safety time.Duration
	// Liveness is the length of the healed phase.
	Liveness time.Duration
	// Settle is how long after healing the cluster may take to recover;
	// every request sent later must succeed.
	Settle time.Duration
	// Quiesce is how long the cluster runs without clients at the end, for
	// every replica to catch up before the stores are compared.
	Quiesce time.Duration
	// TraceLines is how many of the last delivered events a Result keeps.
	TraceLines int
}

// DefaultOptions returns a fault-free run: a LAN, three clients on five
// keys, 10 s of safety phase and 10 s of liveness phase.
func DefaultOptions(seed uint64) Options {
	return Options{
		Network:    LAN(seed),
		Workload:   Workload{Clients: 3, Keys: 5, WriteRatio: 0.5, Think: 10 * time.Millisecond, Timeout: 2 * time.Second},
		Safety:     10 * time.Second,
		Liveness:   10 * time.Second,
		Settle:     5 * time.Second,
		Quiesce:    2 * time.Second,
		TraceLines: 40,
	}
}

// RandomOptions picks a fault mix from the seed (swarm testing: each seed is
// a different adversary): each kind of fault is on or off, with random
// strength, and the workload varies too.
func RandomOptions(seed uint64) Options {
	o := DefaultOptions(seed)
	rng := rand.New(rand.NewPCG(seed, 0x5a4a))
	coin := func() bool { return rng.IntN(2) == 0 }
	dur := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)) }
	n := &o.Network
	n.DelayMin = dur(50*time.Microsecond, time.Millisecond)
	n.DelayMax = n.DelayMin + dur(0, 5*time.Millisecond)
	if coin() {
		n.Loss = rng.Float64() * 0.2
	}
	if coin() {
		n.Duplicate = rng.Float64() * 0.1
	}
	if coin() {
		n.TailProbability, n.TailDelay = rng.Float64()*0.1, dur(time.Millisecond, 200*time.Millisecond)
	}
	f := &o.Faults
	if coin() {
		f.CrashProbability, f.CrashTime = rng.Float64()*0.05, dur(100*time.Millisecond, 5*time.Second)
	}
	if coin() {
		f.PartitionProbability, f.PartitionTime = rng.Float64()*0.1, dur(100*time.Millisecond, 5*time.Second)
		f.OneWayProbability = rng.Float64()
	}
	if coin() {
		f.LinkProbability, f.LinkTime = rng.Float64()*0.1, dur(100*time.Millisecond, 3*time.Second)
		f.SlowDelay, f.FlakyLoss = dur(0, 300*time.Millisecond), rng.Float64()*0.8
	}
	w := &o.Workload
	w.Clients = 1 + rng.IntN(5)
	w.Keys = 1 + rng.IntN(8)
	w.WriteRatio = 0.2 + 0.6*rng.Float64()
	w.Think = dur(0, 20*time.Millisecond)
	return o
}

// String prints the options on one line, deterministically, for reports.
func (o Options) String() string {
	n := o.Network
	return fmt.Sprintf("seed=%d delay=[%v,%v] loss=%.3f dup=%.3f tail=%.3f/%v %v %v safety=%v liveness=%v schedule=%d actions",
		n.Seed, n.DelayMin, n.DelayMax, n.Loss, n.Duplicate, n.TailProbability, n.TailDelay,
		o.Faults, o.Workload, o.Safety, o.Liveness, len(o.Schedule))
}

// Result is what a run produced: the client history, the replicas' stores,
// and anything that went wrong inside the run itself. Checking the history
// and the stores (linearizability, agreement) is the caller's job: package
// checker does it, and the protocols' tests join the two.
type Result struct {
	Options Options
	// History is every client operation, in the order they completed.
	History []history.Operation
	// Stores are the replicas' stores at the end.
	Stores map[paxi.ID]*store.Store
	// Replicas are the replicas at the end (nil for a node crashed at the
	// end; none is, after the liveness phase), for Protocol.Check.
	Replicas map[paxi.ID]paxi.Replica
	// Stats counts events; Virtual is the simulated time.
	Stats   Stats
	Virtual time.Duration
	// HealedAt is when the liveness phase began.
	HealedAt time.Duration
	// Panic is set if a replica panicked: a protocol invariant broke.
	Panic string
	// Liveness is set if a request failed after the cluster had settled, or
	// a client completed nothing in the liveness phase.
	Liveness error
	// Converged is set if the stores differ after the quiet period.
	Converged error
	// Trace is the last TraceLines events delivered.
	Trace []string
}

// Failed reports whether the run itself saw a violation (a panic, a
// liveness failure or stores that did not converge).
func (r *Result) Failed() bool { return r.Panic != "" || r.Liveness != nil || r.Converged != nil }

// Report describes a failed run: what failed, how to replay it, and the
// last events.
func (r *Result) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "replay with seed=%d\noptions: %v\n", r.Options.Network.Seed, r.Options)
	if r.Panic != "" {
		fmt.Fprintf(&b, "panic: %s\n", r.Panic)
	}
	if r.Liveness != nil {
		fmt.Fprintf(&b, "liveness: %v\n", r.Liveness)
	}
	if r.Converged != nil {
		fmt.Fprintf(&b, "convergence: %v\n", r.Converged)
	}
	fmt.Fprintf(&b, "last %d events:\n", len(r.Trace))
	for _, l := range r.Trace {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

// traceEntry is a delivered event, formatted only when reported.
type traceEntry struct {
	at       time.Duration
	from, to paxi.ID
	msg      paxi.Message
}

// Run simulates cfg's cluster running protocol p with opts. It returns an
// error only for unusable options; what went wrong in the run is in the
// Result.
func Run(cfg *paxi.Config, p paxi.Protocol, opts Options) (res *Result, err error) {
	if opts.Workload.Clients < 0 || (opts.Workload.Clients > 0 && (opts.Workload.Keys < 1 || opts.Workload.Timeout <= 0)) {
		return nil, errors.New("sim: workload needs Keys >= 1 and a positive Timeout")
	}
	c, err := New(cfg, p, opts.Network)
	if err != nil {
		return nil, err
	}
	res = &Result{Options: opts}
	ring := make([]traceEntry, max(opts.TraceLines, 1))
	var traced uint64
	c.Trace = func(at time.Duration, from, to paxi.ID, m paxi.Message) {
		ring[traced%uint64(len(ring))] = traceEntry{at, from, to, m}
		traced++
	}
	defer func() {
		if r := recover(); r != nil {
			res.Panic = fmt.Sprint(r)
		}
		n := min(traced, uint64(len(ring)))
		for i := traced - n; i < traced; i++ {
			e := ring[i%uint64(len(ring))]
			res.Trace = append(res.Trace, fmt.Sprintf("%12.6fs %v -> %v %v", e.at.Seconds(), e.from, e.to, e.msg))
		}
		res.Stats, res.Virtual = c.Stats(), c.Now()
		res.Stores = make(map[paxi.ID]*store.Store, len(c.ids))
		res.Replicas = make(map[paxi.ID]paxi.Replica, len(c.ids))
		for _, id := range c.ids {
			res.Stores[id] = c.Store(id)
			res.Replicas[id] = c.Replica(id)
		}
	}()

	seed := opts.Network.Seed
	fp := c.startFaults(opts.Faults, seed)
	var scheduleErrs []string
	for _, a := range opts.Schedule {
		c.After(a.At, func() {
			if err := a.Apply(c.Injector()); err != nil {
				scheduleErrs = append(scheduleErrs, err.Error())
			}
		})
	}
	cl := c.startClients(opts.Workload, seed)

	c.RunFor(opts.Safety)
	fp.stopped = true
	c.net.Loss, c.net.Duplicate, c.net.TailProbability = 0, 0, 0
	if err := c.Heal(); err != nil {
		return res, err
	}
	res.HealedAt = c.Now()
	c.RunFor(opts.Liveness)
	cl.stop()
	c.RunFor(opts.Quiesce)
	res.History = cl.history
	res.Liveness = checkLiveness(cl.history, res.HealedAt+opts.Settle, opts.Workload.Clients)
	res.Converged = converged(c)
	return res, nil
}

// checkLiveness: after settled, no request may fail (other than those cut
// short by the end of the run), and every client must complete one.
func checkLiveness(h []history.Operation, settled time.Duration, clients int) error {
	done := map[string]bool{}
	for _, op := range h {
		if time.Duration(op.Call) < settled {
			continue
		}
		switch op.Error {
		case "":
			done[op.Client] = true
		case "run ended":
		default:
			return fmt.Errorf("%v failed after the cluster was healed and settled (at %v)", op, settled)
		}
	}
	if len(done) < clients {
		return fmt.Errorf("only %d of %d clients completed a request after %v", len(done), clients, settled)
	}
	return nil
}

// converged reports the first difference between the replicas' stores.
func converged(c *Cluster) error {
	ref := c.ids[0]
	want := c.Store(ref).Snapshot()
	for _, id := range c.ids[1:] {
		got := c.Store(id).Snapshot()
		if !slices.EqualFunc(got.Keys, want.Keys, func(a, b store.KeyHistory) bool {
			return a.Key == b.Key && slices.EqualFunc(a.Versions, b.Versions, func(x, y store.Version) bool {
				return x.Version == y.Version && string(x.Value) == string(y.Value) && x.Deleted == y.Deleted &&
					x.ClientID == y.ClientID && x.CommandID == y.CommandID
			})
		}) {
			return fmt.Errorf("stores of %v and %v differ after %v without faults or clients", ref, id, c.Now())
		}
	}
	return nil
}
