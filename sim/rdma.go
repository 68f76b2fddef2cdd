package sim

import (
	"fmt"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// RDMA in the simulator.
//
// With Network.RDMA set (New sets it for every protocol with
// Protocol.RDMA), every node gets an emulated NIC on one rdma.Fabric whose
// events are the cluster's own events, so a run stays a function of its
// seed. The Env a replica gets then implements rdma.Env.
//
// The NIC follows the node's faults:
//
//   - SetDown(id, true) pauses the process: its replica stops stepping
//     (completions, notifications and timers wait for it), but its NIC
//     keeps serving one-sided operations on its memory.
//   - Crash of a protocol with Recover is a host crash: memory and queue
//     pairs are gone, operations to it fail with RetryExceeded after the RC
//     timeout, and Restart recovers the replica on a new, empty device.
//   - Crash of a crash-stop protocol (no Recover) cannot lose memory and
//     come back, so it makes the host unreachable instead (operations to
//     and from it fail with RetryExceeded) and pauses the replica; Restart
//     makes it reachable again, with its memory, like the end of a long
//     partition.
//   - Link cuts (Drop, and the fault process's partitions) cut RDMA too;
//     slow, flaky, lossy and duplicating links affect only messages (RC
//     retransmits below the verbs).

// nodeHost delivers a fabric's messages to a node as zero-delay timers:
// held while the node is paused, dropped if it crashes.
type nodeHost struct{ n *node }

func (h nodeHost) Deliver(m paxi.Message) { h.n.After(0, m) }

// rdmaEnv is a node's Env with its NIC.
type rdmaEnv struct{ *node }

// RDMA implements rdma.Env: the node's current device (nil while its host
// is crashed).
func (e rdmaEnv) RDMA() rdma.Device { return e.c.fabric.Device(e.id) }

var _ rdma.Env = rdmaEnv{}

// env is the Env handed to node n's replica.
func (c *Cluster) env(n *node) paxi.Env {
	if c.fabric != nil {
		return rdmaEnv{n}
	}
	return n
}

// Fabric returns the cluster's RDMA fabric, nil without Network.RDMA.
func (c *Cluster) Fabric() *rdma.Fabric { return c.fabric }

func (c *Cluster) attachRDMA() error {
	if c.net.RDMA == nil {
		return nil
	}
	f, err := rdma.NewFabric(c, *c.net.RDMA)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	f.Reachable = func(from, to paxi.ID) bool { return c.links.cut[c.links.at(from, to)] == 0 }
	for _, id := range c.ids {
		f.Attach(id, nodeHost{c.nodes[id]})
	}
	c.fabric = f
	return nil
}

func (c *Cluster) crashRDMA(id paxi.ID) {
	if c.fabric != nil {
		c.fabric.Crash(id)
	}
}

func (c *Cluster) restartRDMA(id paxi.ID) {
	if c.fabric != nil {
		c.fabric.Isolate(id, false)
		c.fabric.Restart(id)
	}
}

func (c *Cluster) isolateRDMA(id paxi.ID, isolated bool) {
	if c.fabric != nil {
		c.fabric.Isolate(id, isolated)
	}
}
