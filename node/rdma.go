package node

import (
	"errors"
	"fmt"
	"sync"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// RDMA in the runtime.
//
// A protocol with paxi.Protocol.RDMA gets an Env that implements rdma.Env:
// its node's emulated NIC, from the backend the configuration's rdma
// section names. With "mem", the nodes of one process share the fabric in
// Options.RDMAFabric (`paxi local` creates one); with "shm", each node
// maps its peers' memory from files in a shared-memory directory, so the
// nodes can be separate processes on one machine.
//
// The device delivers completions, memory changes and events from its own
// goroutines. The node queues them and its event loop hands them to Step,
// with from = the node itself, one at a time like every other message, so
// the replica stays single-threaded.

// rdmaState is a node's NIC and the queue from it to the event loop.
type rdmaState struct {
	dev   rdma.Device
	close func() // detaches the device when the node stops
	ready chan struct{}

	mu    sync.Mutex
	queue []paxi.Message
}

// Deliver implements rdma.Host: it queues m for the event loop and never
// blocks (the device may call it holding its own lock).
func (r *rdmaState) Deliver(m paxi.Message) {
	r.mu.Lock()
	r.queue = append(r.queue, m)
	r.mu.Unlock()
	select {
	case r.ready <- struct{}{}:
	default:
	}
}

// take returns the queued messages in delivery order.
func (r *rdmaState) take() []paxi.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queue
	r.queue = nil
	return q
}

// attachRDMA gives the node a device when its protocol needs one.
func (n *Node) attachRDMA(fabric *rdma.Mem) error {
	if !n.protocol.RDMA {
		return nil
	}
	rc := n.cfg.RDMA
	o, err := rdmaOptions(rc)
	if err != nil {
		return err
	}
	r := &rdmaState{ready: make(chan struct{}, 1)}
	switch rc.BackendName() {
	case paxi.RDMAMem:
		if fabric == nil {
			return errors.New(`rdma.backend = "mem" shares one fabric between the nodes of a process, and this node was given none: ` +
				`run the cluster with paxi local, or use rdma.backend = "shm" for one process per node`)
		}
		fabric.Declare(n.cfg.IDs()...)
		r.dev = fabric.Attach(n.id, r)
		r.close = func() { fabric.Crash(n.id) }
	case paxi.RDMAShm:
		cluster := rc.Cluster
		if cluster == "" {
			cluster = rdma.ClusterName(n.cfg.Addrs)
		}
		d, err := rdma.OpenShm(rdma.ShmConfig{Dir: rc.DirName(), Cluster: cluster, Hosts: n.cfg.IDs(), Options: o}, n.id, r)
		if err != nil {
			return err
		}
		r.dev = d
		r.close = func() { d.Close() }
	}
	n.rdma = r
	return nil
}

// NewMemFabric returns the mem fabric that the nodes of one process share
// (Options.RDMAFabric), with the configuration's profile and placement.
// Close it after the nodes.
func NewMemFabric(cfg *paxi.Config) (*rdma.Mem, error) {
	o, err := rdmaOptions(cfg.RDMA)
	if err != nil {
		return nil, err
	}
	return rdma.NewMem(o)
}

// rdmaOptions turns the configuration's names into fabric options.
func rdmaOptions(rc paxi.RDMAConfig) (rdma.Options, error) {
	o := rdma.Options{}
	if rc.Profile != "" {
		p, err := rdma.ProfileByName(rc.Profile)
		if err != nil {
			return o, fmt.Errorf("rdma.profile: %w", err)
		}
		o.Profile = p
	}
	if rc.Placement != "" {
		pl, err := rdma.ParsePlacement(rc.Placement)
		if err != nil {
			return o, fmt.Errorf("rdma.placement: %w", err)
		}
		o.Placement = pl
	}
	return o, nil
}

// protocolEnv is the Env the replica gets: with the NIC when it has one.
func (n *Node) protocolEnv() paxi.Env {
	if n.rdma != nil {
		return rdmaEnv{env{n}}
	}
	return env{n}
}

// rdmaReady is the channel the event loop waits on for the NIC's
// messages: nil (never ready) without one.
func (n *Node) rdmaReady() <-chan struct{} {
	if n.rdma == nil {
		return nil
	}
	return n.rdma.ready
}

// stepRDMA hands the NIC's queued messages to the replica.
func (n *Node) stepRDMA() {
	for _, m := range n.rdma.take() {
		n.step(n.id, m)
	}
}

// detachRDMA takes the node's NIC off the fabric: peers see a host that
// is gone.
func (n *Node) detachRDMA() {
	if n.rdma != nil {
		n.rdma.close()
	}
}

// rdmaEnv is the runtime's Env with the node's NIC.
type rdmaEnv struct{ env }

var _ rdma.Env = rdmaEnv{}

// RDMA implements rdma.Env.
func (e rdmaEnv) RDMA() rdma.Device { return e.n.rdma.dev }
