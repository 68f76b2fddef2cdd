package sim

import (
	"container/heap"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/store"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// Epoch is the virtual time at which every simulation starts.
var Epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Cluster is a simulated cluster: the replicas, the network between them
// and the virtual clock. Everything random is drawn from Options.Seed.
type Cluster struct {
	cfg      *paxi.Config
	protocol paxi.Protocol
	net      Network
	ids      []paxi.ID
	nodes    map[paxi.ID]*node
	queue    events
	now      time.Time
	seq      uint64
	rng      *rand.Rand // the network's and the fault process's randomness
	logger   *slog.Logger
	links    links
	healed   uint64 // number of Heal calls, to cancel the undo of healed faults

	// Filter, if set, is asked about every message between two nodes; a
	// message for which it returns false is dropped. Tests use it to cut
	// links or lose chosen messages.
	Filter func(from, to paxi.ID, m paxi.Message) bool
	// Trace, if set, is called for every message and timer delivered, in
	// order.
	Trace func(at time.Duration, from, to paxi.ID, m paxi.Message)

	replies    map[uint64]paxi.Reply
	onReply    func(h uint64, r paxi.Reply)
	nextHandle uint64
	stats      Stats

	fabric *rdma.Fabric // the emulated RDMA NICs, if Network.RDMA
}

// Stats counts what a simulation did.
type Stats struct {
	// Events is the number of events processed (messages, timers, client
	// and fault events).
	Events uint64
	// Messages is the number of messages delivered to replicas; Dropped
	// were lost by the network or to a down node; Duplicated were copied.
	Messages, Dropped, Duplicated uint64
	// Crashes and Restarts count node crashes and recoveries.
	Crashes, Restarts uint64
}

type node struct {
	c       *Cluster
	id      paxi.ID
	index   int
	replica paxi.Replica
	store   *store.Store
	rng     *rand.Rand
	log     *slog.Logger
	down    bool     // receives nothing: paused, or crashed
	crashed bool     // lost its volatile state; comes back through Recover
	durable any      // what Durable returned at the crash
	held    []*event // timers that fired while paused, re-armed on resume
	timers  map[paxi.TimerID]bool
	next    paxi.TimerID // never reset, so a timer of a past life never matches
}

// New builds a cluster of cfg's nodes running protocol p on the network
// described by net.
func New(cfg *paxi.Config, p paxi.Protocol, net Network) (*Cluster, error) {
	if net.WAN == nil {
		net.WAN = cfg.WAN.Matrix() // the configuration's WAN emulation, if any
	}
	if p.RDMA && net.RDMA == nil {
		o := rdma.DefaultOptions(net.Seed)
		net.RDMA = &o
	}
	if err := net.Validate(cfg); err != nil {
		return nil, err
	}
	logger := net.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{
		cfg:      cfg,
		protocol: p,
		net:      net,
		ids:      cfg.IDs(),
		nodes:    make(map[paxi.ID]*node),
		now:      Epoch,
		rng:      rand.New(rand.NewPCG(net.Seed, 0x5eed)),
		logger:   logger,
		replies:  make(map[uint64]paxi.Reply),
	}
	c.links = newLinks(c.ids)
	for i, id := range c.ids {
		c.nodes[id] = &node{
			c:      c,
			id:     id,
			index:  i,
			store:  store.New(),
			rng:    rand.New(rand.NewPCG(net.Seed, uint64(i)+1)),
			log:    logger.With("node", id.String()),
			timers: make(map[paxi.TimerID]bool),
		}
	}
	if err := c.attachRDMA(); err != nil {
		return nil, err
	}
	for _, id := range c.ids {
		n := c.nodes[id]
		r, err := p.New(c.env(n))
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

// Config returns the cluster's configuration.
func (c *Cluster) Config() *paxi.Config { return c.cfg }

// Stats returns what the simulation did so far.
func (c *Cluster) Stats() Stats { return c.stats }

// Delivered returns how many messages and timers were delivered.
func (c *Cluster) Delivered() uint64 { return c.stats.Messages }

// Down reports whether a node is paused or crashed.
func (c *Cluster) Down(id paxi.ID) bool { return c.nodes[id].down }

// SetDown pauses (true) or resumes (false) a node: a paused node receives no
// message, its timers wait until it resumes, and it keeps its state. It
// models a stopped process or an isolated host.
func (c *Cluster) SetDown(id paxi.ID, down bool) {
	n := c.nodes[id]
	if n.crashed {
		panic(fmt.Sprintf("sim: SetDown(%v) on a crashed node: use Restart", id))
	}
	n.down = down
	if !down {
		for _, e := range n.held {
			c.push(c.now, e.from, e.to, e.msg, e.timer)
		}
		n.held = nil
	}
}

// Crash crashes a node. If the protocol supports recovery (paxi.Durable and
// Protocol.Recover) the node loses everything but its durable state, and
// its timers; otherwise it is paused. Restart brings it back.
func (c *Cluster) Crash(id paxi.ID) {
	n := c.nodes[id]
	if n.down {
		return
	}
	c.stats.Crashes++
	d, ok := n.replica.(paxi.Durable)
	if !ok || c.protocol.Recover == nil {
		c.isolateRDMA(id, true)
		c.SetDown(id, true)
		return
	}
	c.crashRDMA(id)
	n.durable = d.Durable()
	n.down, n.crashed = true, true
	n.replica = nil
	n.held = nil
	clear(n.timers)
}

// Restart brings back a crashed or paused node. A crashed node is rebuilt
// by Protocol.Recover from its durable state. Its store survives the crash:
// the state machine is durable, applied as far as the durable state says.
func (c *Cluster) Restart(id paxi.ID) error {
	n := c.nodes[id]
	if !n.down {
		return nil
	}
	c.stats.Restarts++
	if !n.crashed {
		c.isolateRDMA(id, false)
		c.SetDown(id, false)
		return nil
	}
	n.down, n.crashed = false, false
	c.restartRDMA(id)
	r, err := c.protocol.Recover(c.env(n), n.durable)
	if err != nil {
		return fmt.Errorf("sim: recover %v: %w", id, err)
	}
	n.replica, n.durable = r, nil
	return nil
}

// Submit hands a client command to node at, as its REST API would, and
// returns a handle for Reply. A command without a client id gets one.
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

// Await runs until every command submitted with the handles hs has a
// reply, or limit of virtual time has passed. It returns the replies in the
// order of hs and whether all arrived.
func (c *Cluster) Await(limit time.Duration, hs ...uint64) ([]paxi.Reply, bool) {
	ok := c.RunUntil(func() bool {
		for _, h := range hs {
			if _, ok := c.replies[h]; !ok {
				return false
			}
		}
		return true
	}, limit)
	out := make([]paxi.Reply, len(hs))
	for i, h := range hs {
		out[i] = c.replies[h]
	}
	return out, ok
}

// Step processes the next event. It returns false when there is none.
func (c *Cluster) Step() bool {
	if len(c.queue) == 0 {
		return false
	}
	e := heap.Pop(&c.queue).(*event)
	c.now = e.at
	c.stats.Events++
	if e.fn != nil {
		e.fn()
		return true
	}
	n := c.nodes[e.to]
	if n.down {
		if e.timer != 0 && !n.crashed {
			n.held = append(n.held, e)
		} else if e.timer == 0 {
			c.stats.Dropped++
		}
		return true
	}
	if e.timer != 0 {
		if !n.timers[e.timer] {
			return true // cancelled
		}
		delete(n.timers, e.timer)
	}
	c.stats.Messages++
	if c.Trace != nil {
		c.Trace(c.Now(), e.from, e.to, e.msg)
	}
	if r, ok := e.msg.(paxi.Reply); ok {
		if _, dup := c.replies[r.Handle]; !dup {
			c.replies[r.Handle] = r
			if c.onReply != nil {
				c.onReply(r.Handle, r)
			}
		}
		return true
	}
	if err := n.replica.Step(e.from, e.msg); err != nil {
		panic(fmt.Sprintf("sim: node %v: %v", e.to, err))
	}
	return true
}

// RunFor processes events for d of virtual time.
func (c *Cluster) RunFor(d time.Duration) {
	end := c.now.Add(d)
	for len(c.queue) > 0 && !c.queue[0].at.After(end) {
		c.Step()
	}
	c.now = end
}

// RunUntil processes events until cond holds, checking after each event, or
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

// After runs f at virtual time Now()+d, between events (a negative d means
// now: the clock never goes back). Drivers use it for clients and faults,
// and the RDMA fabric for placements and completions.
func (c *Cluster) After(d time.Duration, f func()) {
	c.seq++
	heap.Push(&c.queue, &event{at: c.now.Add(max(d, 0)), seq: c.seq, fn: f})
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
		c.stats.Dropped++
		return
	}
	d, ok := c.delay(from, to)
	if !ok {
		c.stats.Dropped++
		return
	}
	c.push(c.now.Add(d), from, to, m, 0)
	if c.net.Duplicate > 0 && c.rng.Float64() < c.net.Duplicate {
		if d2, ok := c.delay(from, to); ok {
			c.stats.Duplicated++
			c.push(c.now.Add(d2), from, to, m, 0)
		}
	}
}

type event struct {
	at       time.Time
	seq      uint64
	from, to paxi.ID
	msg      paxi.Message
	timer    paxi.TimerID
	fn       func() // a driver event (client, fault), not a message
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
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}
