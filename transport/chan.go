package transport

import (
	"fmt"
	"sync"

	"github.com/ailidani/paxi-style/paxi"
)

// ChanNetwork is an in-process network: the nodes of a cluster that runs
// inside one process (tests, benchmarks, a laptop demo) join it and talk
// over Go channels. Each network is a value, not a package-level registry
// as in the original Paxi, so independent clusters (parallel tests) never
// see each other.
//
// Messages are not encoded: the receiver gets the very value the sender
// passed to Send. Slices and maps inside a message are therefore shared,
// and both sides must treat sent and received messages as immutable (as
// protocols must anyway, since the simulator shares them too). Queues are
// bounded exactly as on TCP: each link has its own queue of
// Options.QueueSize messages drained by its own goroutine, and a message
// for a node that has not joined yet (or is restarting) waits in the queue.
//
// Scheduling is left to the Go runtime, so runs are not reproducible; use
// the simulator for that.
type ChanNetwork struct {
	mu    sync.Mutex
	nodes map[paxi.ID]*chanNode
	// joined is closed, and replaced, whenever a node joins: link
	// goroutines waiting for an absent node wait on it.
	joined chan struct{}
}

// NewChanNetwork returns an empty in-process network.
func NewChanNetwork() *ChanNetwork {
	return &ChanNetwork{nodes: make(map[paxi.ID]*chanNode), joined: make(chan struct{})}
}

// Join connects node self to the network and returns its transport. peers
// lists the nodes self may send to (self may be included). A node may
// join again after its previous transport was closed, which is how tests
// restart it; joining twice while open is an error.
func (n *ChanNetwork) Join(self paxi.ID, peers []paxi.ID, opts Options) (Transport, error) {
	return n.join(self, peers, opts, nil)
}

// join is Join with an optional codec: New passes the cluster's, so that
// sending an unregistered type fails on chan exactly as it would on tcp.
func (n *ChanNetwork) join(self paxi.ID, peers []paxi.ID, opts Options, codec *Codec) (*chanNode, error) {
	opts, err := opts.withDefaults("chan", self)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nodes[self] != nil {
		return nil, fmt.Errorf("transport: node %v already joined this ChanNetwork (close its transport first)", self)
	}
	c := &chanNode{net: n, codec: codec, links: make(map[paxi.ID]chan paxi.Message, len(peers))}
	c.init(self, opts, len(peers))
	for _, id := range peers {
		if id == self || c.links[id] != nil {
			continue
		}
		q := make(chan paxi.Message, opts.QueueSize)
		c.links[id] = q
		c.wg.Go(func() { c.linkLoop(id, q) })
	}
	n.nodes[self] = c
	close(n.joined)
	n.joined = make(chan struct{})
	return c, nil
}

// lookup returns the open node id, or nil and a channel closed on the next join.
func (n *ChanNetwork) lookup(id paxi.ID) (*chanNode, <-chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.nodes[id], n.joined
}

func (n *ChanNetwork) leave(c *chanNode) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nodes[c.self] == c {
		delete(n.nodes, c.self)
	}
}

// chanNode is one node's transport on a ChanNetwork.
type chanNode struct {
	base
	net   *ChanNetwork
	codec *Codec                        // nil: any message type is accepted
	links map[paxi.ID]chan paxi.Message // immutable after join

	// inbox guards writes by other nodes' link goroutines to recv: they
	// hold it for reading while they write, and only while sealed is
	// false. Close seals the inbox (after closing done, which makes every
	// writer give up) before recv is closed.
	inbox  sync.RWMutex
	sealed bool
}

// Send implements Transport.
func (c *chanNode) Send(to paxi.ID, m paxi.Message) error {
	if c.closed() {
		return ErrClosed
	}
	if c.codec != nil && !c.codec.Registered(m) {
		return fmt.Errorf("%w: %T", ErrUnregistered, m)
	}
	if to == c.self {
		return c.sendSelf(m)
	}
	q, ok := c.links[to]
	if !ok {
		return fmt.Errorf("%w: %v", ErrUnknownPeer, to)
	}
	return push(q, m)
}

// Close implements Transport. Messages queued to or by this node are
// dropped; the node can join again.
func (c *chanNode) Close() error {
	return c.shutdown(func() error {
		c.net.leave(c)
		// Wait out link goroutines of other nodes that are writing to
		// recv; done is closed, so they give up at once.
		c.inbox.Lock()
		c.sealed = true
		c.inbox.Unlock()
		return nil
	})
}

// linkLoop is the link from this node to node to: it moves messages from
// the link's queue to the receiver's Recv, in order, waiting while the
// receiver is absent or full.
func (c *chanNode) linkLoop(to paxi.ID, q chan paxi.Message) {
	for {
		var m paxi.Message
		select {
		case m = <-q:
		case <-c.done:
			return
		}
		for {
			dst, joined := c.net.lookup(to)
			if dst != nil {
				if !dst.accept(Envelope{From: c.self, To: to, Msg: m}, c.done) {
					return
				}
				break
			}
			select {
			case <-joined:
			case <-c.done:
				return
			}
		}
	}
}

// accept delivers env to c's Recv on behalf of a sender whose transport
// closes senderDone. It drops env if c closes first, and reports false if
// the sender closes first.
func (c *chanNode) accept(env Envelope, senderDone <-chan struct{}) bool {
	c.inbox.RLock()
	defer c.inbox.RUnlock()
	if c.sealed {
		return true
	}
	select {
	case c.recv <- env:
	case <-c.done:
	case <-senderDone:
		return false
	}
	return true
}
