package sim

import (
	"container/heap"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/store"
)

// Options set the simulated network.
type Options struct {
	// Seed determines every random choice of the run.
	Seed uint64
	// DelayMin and DelayMax bound the one-way delay of a message, drawn
	// uniformly.
	DelayMin, DelayMax time.Duration
	// Loss is the probability that a message is lost.
	Loss float64
	// Logger receives the replicas' logs; nil discards them.
	Logger *slog.Logger
}

// DefaultOptions is a reliable LAN: 100 to 500 µs one-way, no loss.
func DefaultOptions(seed uint64) Options {
	return Options{Seed: seed, DelayMin: 100 * time.Microsecond, DelayMax: 500 * time.Microsecond}
}

// Epoch is the virtual time at which every simulation starts.
var Epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Cluster is a simulated cluster.
type Cluster struct {
	cfg   *paxi.Config
	opts  Options
	ids   []paxi.ID
	nodes map[paxi.ID]*node
	queue events
	now   time.Time
	seq   uint64
	rng   *rand.Rand

	// Filter, if set, is asked about every message between two nodes; a
	// message for which it returns false is dropped. Tests use it to cut
	// links or lose chosen messages.
	Filter func(from, to paxi.ID, m paxi.Message) bool
	// Trace, if set, is called for every event delivered, in order.
	Trace func(at time.Duration, from, to paxi.ID, m paxi.Message)

	replies    map[uint64]paxi.Reply
	nextHandle uint64
	delivered  uint64
}

type node struct {
	c       *Cluster
	id      paxi.ID
	replica paxi.Replica
	store   *store.Store
	rng     *rand.Rand
	log     *slog.Logger
	down    bool
	held    []*event // timers that fired while down, re-armed on resume
	timers  map[paxi.TimerID]bool
	next    paxi.TimerID
}

// New builds a cluster of cfg's nodes running protocol p.
func New(cfg *paxi.Config, p paxi.Protocol, opts Options) (*Cluster, error) {
	if opts.DelayMax < opts.DelayMin {
		return nil, fmt.Errorf("sim: DelayMax %v below DelayMin %v", opts.DelayMax, opts.DelayMin)
	}
	if opts.Loss < 0 || opts.Loss > 1 {
		return nil, fmt.Errorf("sim: Loss = %g: must be in [0,1]", opts.Loss)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{
		cfg:     cfg,
		opts:    opts,
		ids:     cfg.IDs(),
		nodes:   make(map[paxi.ID]*node),
		now:     Epoch,
		rng:     rand.New(rand.NewPCG(opts.Seed, 0x5eed)),
		replies: make(map[uint64]paxi.Reply),
	}
	for i, id := range c.ids {
		n := &node{
			c:      c,
			id:     id,
			store:  store.New(),
			rng:    rand.New(rand.NewPCG(opts.Seed, uint64(i)+1)),
			log:    logger.With("node", id.String()),
			timers: make(map[paxi.TimerID]bool),
		}
		c.nodes[id] = n
	}
	for _, id := range c.ids {
		n := c.nodes[id]
		r, err := p.New(n)
		if err != nil {
			return nil, fmt.Errorf("sim: node %v: %w", id, err)
		}
		n.replica = r
	}
	return c, nil
}

// Now returns the virtual time elapsed since the start.
func (c *Cluster) Now() time.Duration { return c.now.Sub(Epoch) }

// Replica returns the replica of node id.
func (c *Cluster) Replica(id paxi.ID) paxi.Replica { return c.nodes[id].replica }

// Store returns the store of node id.
func (c *Cluster) Store(id paxi.ID) *store.Store { return c.nodes[id].store }

// IDs returns the nodes, sorted.
func (c *Cluster) IDs() []paxi.ID { return c.ids }

// Delivered returns how many events have been delivered.
func (c *Cluster) Delivered() uint64 { return c.delivered }

// SetDown stops (true) or resumes (false) a node: a down node receives no
// message, its timers wait until it resumes, and it keeps its state. It
// models a paused process or an isolated host.
func (c *Cluster) SetDown(id paxi.ID, down bool) {
	n := c.nodes[id]
	n.down = down
	if !down {
		for _, e := range n.held {
			c.push(c.now, e.from, e.to, e.msg, e.timer)
		}
		n.held = nil
	}
}

// Submit hands a client command to node at, as its REST API would, and
// returns a handle for Reply.
func (c *Cluster) Submit(at paxi.ID, cmd paxi.Command) uint64 {
	c.nextHandle++
	h := c.nextHandle
	if cmd.ClientID == "" {
		cmd.ClientID, cmd.CommandID = "@"+at.String(), h
	}
	c.push(c.now, at, at, paxi.Request{Command: cmd, Node: at, Handle: h}, 0)
	return h
}

// Reply returns the reply to the command submitted with handle h, if any.
func (c *Cluster) Reply(h uint64) (paxi.Reply, bool) {
	r, ok := c.replies[h]
	return r, ok
}

// Step delivers the next event. It returns false when there is none.
func (c *Cluster) Step() bool {
	if len(c.queue) == 0 {
		return false
	}
	e := heap.Pop(&c.queue).(*event)
	c.now = e.at
	n := c.nodes[e.to]
	if n.down {
		if e.timer != 0 {
			n.held = append(n.held, e)
		}
		return true
	}
	if e.timer != 0 {
		if !n.timers[e.timer] {
			return true // cancelled
		}
		delete(n.timers, e.timer)
	}
	c.delivered++
	if c.Trace != nil {
		c.Trace(c.Now(), e.from, e.to, e.msg)
	}
	if r, ok := e.msg.(paxi.Reply); ok {
		c.replies[r.Handle] = r
		return true
	}
	if err := n.replica.Step(e.from, e.msg); err != nil {
		panic(fmt.Sprintf("sim: node %v: %v", e.to, err))
	}
	return true
}

// RunFor delivers events for d of virtual time.
func (c *Cluster) RunFor(d time.Duration) {
	end := c.now.Add(d)
	for len(c.queue) > 0 && !c.queue[0].at.After(end) {
		c.Step()
	}
	c.now = end
}

// RunUntil delivers events until cond holds, checking after each event, or
// until limit of virtual time has passed. It reports whether cond held.
func (c *Cluster) RunUntil(cond func() bool, limit time.Duration) bool {
	end := c.now.Add(limit)
	for !cond() {
		if len(c.queue) == 0 || c.queue[0].at.After(end) {
			c.now = end
			return cond()
		}
		c.Step()
	}
	return true
}

func (c *Cluster) push(at time.Time, from, to paxi.ID, m paxi.Message, timer paxi.TimerID) {
	c.seq++
	heap.Push(&c.queue, &event{at: at, seq: c.seq, from: from, to: to, msg: m, timer: timer})
}

// transmit puts a message on the simulated network.
func (c *Cluster) transmit(from, to paxi.ID, m paxi.Message) {
	if _, ok := c.nodes[to]; !ok {
		panic(fmt.Sprintf("sim: node %v sends %v to unknown node %v", from, m, to))
	}
	if from == to {
		c.push(c.now, from, to, m, 0)
		return
	}
	if c.Filter != nil && !c.Filter(from, to, m) {
		return
	}
	if c.opts.Loss > 0 && c.rng.Float64() < c.opts.Loss {
		return
	}
	d := c.opts.DelayMin
	if span := c.opts.DelayMax - c.opts.DelayMin; span > 0 {
		d += time.Duration(c.rng.Int64N(int64(span) + 1))
	}
	c.push(c.now.Add(d), from, to, m, 0)
}

type event struct {
	at       time.Time
	seq      uint64
	from, to paxi.ID
	msg      paxi.Message
	timer    paxi.TimerID
}

type events []*event

func (q events) Len() int { return len(q) }
func (q events) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q events) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *events) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *events) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}
