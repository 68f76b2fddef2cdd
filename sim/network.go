package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ailidani/paxi-style/fault"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// Network describes the simulated network. Every knob has its unit in its
// type; the zero value of a knob turns it off.
type Network struct {
	// Seed determines every random choice of the run.
	Seed uint64
	// DelayMin and DelayMax bound the one-way delay of a message, drawn
	// uniformly (on top of the WAN delay, if any).
	DelayMin, DelayMax time.Duration
	// TailProbability is the chance that a message takes up to TailDelay
	// longer: the long tail that reorders messages.
	TailProbability float64
	TailDelay       time.Duration
	// Loss is the probability that a message is lost.
	Loss float64
	// Duplicate is the probability that a message is delivered twice.
	Duplicate float64
	// WAN, if set, is a zone-to-zone round-trip time matrix (WAN[i][j] is
	// the RTT between zones i+1 and j+1); a message between zones takes half
	// the RTT more.
	WAN [][]time.Duration
	// Logger receives the replicas' logs; nil discards them.
	Logger *slog.Logger
	// RDMA, if set, gives every node an emulated RDMA NIC on one fabric
	// (package transport/rdma, sim backend) driven by the cluster's event
	// queue; see sim/rdma.go. New sets it for protocols with
	// Protocol.RDMA, with rdma.DefaultOptions(Seed).
	RDMA *rdma.Options
}

// LAN is a reliable local network: 100 to 500 µs one way, no loss.
func LAN(seed uint64) Network {
	return Network{Seed: seed, DelayMin: 100 * time.Microsecond, DelayMax: 500 * time.Microsecond}
}

// Validate checks the network against the cluster's configuration.
func (n Network) Validate(cfg *paxi.Config) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if n.DelayMin < 0 || n.DelayMax < n.DelayMin {
		bad("delay [%v, %v]: want 0 <= DelayMin <= DelayMax", n.DelayMin, n.DelayMax)
	}
	for name, p := range map[string]float64{"Loss": n.Loss, "Duplicate": n.Duplicate, "TailProbability": n.TailProbability} {
		if p < 0 || p > 1 {
			bad("%s = %g: must be in [0,1]", name, p)
		}
	}
	if n.TailDelay < 0 {
		bad("TailDelay = %v: must not be negative", n.TailDelay)
	}
	if n.WAN != nil {
		zs := cfg.Zones()
		need := zs[len(zs)-1]
		if len(n.WAN) < need {
			bad("WAN matrix has %d rows; zone %d needs %d", len(n.WAN), need, need)
		}
		for i, row := range n.WAN {
			if len(row) != len(n.WAN) {
				bad("WAN row %d has %d entries, want %d (a square matrix)", i+1, len(row), len(n.WAN))
			}
		}
	}
	if n.RDMA != nil {
		if err := n.RDMA.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("sim: bad network: %w", errors.Join(errs...))
	}
	return nil
}

// links is the fault state of every directed link, indexed by node.
type links struct {
	index map[paxi.ID]int
	n     int
	cut   []int           // > 0: messages lost (a count, so overlapping cuts nest)
	slow  []time.Duration // extra delay
	flaky []float64       // loss probability
}

func newLinks(ids []paxi.ID) links {
	n := len(ids)
	l := links{index: make(map[paxi.ID]int, n), n: n,
		cut: make([]int, n*n), slow: make([]time.Duration, n*n), flaky: make([]float64, n*n)}
	for i, id := range ids {
		l.index[id] = i
	}
	return l
}

func (l *links) at(from, to paxi.ID) int { return l.index[from]*l.n + l.index[to] }

func (l *links) heal() {
	clear(l.cut)
	clear(l.slow)
	clear(l.flaky)
}

// delay draws the delay of a message on a link, or reports it lost.
func (c *Cluster) delay(from, to paxi.ID) (time.Duration, bool) {
	i := c.links.at(from, to)
	if c.links.cut[i] > 0 {
		return 0, false
	}
	if c.net.Loss > 0 && c.rng.Float64() < c.net.Loss {
		return 0, false
	}
	if p := c.links.flaky[i]; p > 0 && c.rng.Float64() < p {
		return 0, false
	}
	d := c.net.DelayMin
	if span := c.net.DelayMax - c.net.DelayMin; span > 0 {
		d += time.Duration(c.rng.Int64N(int64(span) + 1))
	}
	if c.net.TailProbability > 0 && c.rng.Float64() < c.net.TailProbability && c.net.TailDelay > 0 {
		d += time.Duration(c.rng.Int64N(int64(c.net.TailDelay) + 1))
	}
	if c.net.WAN != nil {
		d += c.net.WAN[from.Zone()-1][to.Zone()-1] / 2
	}
	return d + c.links.slow[i], true
}

// The Cluster is a fault.Injector over virtual time.

// Nodes implements fault.Injector.
func (c *Cluster) Nodes() []paxi.ID { return c.ids }

// Leader returns the node that the most live nodes believe leads, if the
// protocol exposes a leader (a method Leader() paxi.ID).
func (c *Cluster) Leader() (paxi.ID, bool) {
	votes := map[paxi.ID]int{}
	var best paxi.ID
	for _, id := range c.ids {
		n := c.nodes[id]
		if n.down {
			continue
		}
		r, ok := n.replica.(interface{ Leader() paxi.ID })
		if !ok {
			return 0, false
		}
		if l := r.Leader(); l != 0 {
			votes[l]++
			if votes[l] > votes[best] || (votes[l] == votes[best] && l < best) {
				best = l
			}
		}
	}
	return best, best != 0
}

// until schedules undo after d, unless d <= 0 (until healed). A Heal in
// between cancels the undo: the fault it would end is gone already.
func (c *Cluster) until(d time.Duration, undo func()) {
	if d <= 0 {
		return
	}
	gen := c.healed
	c.After(d, func() {
		if c.healed == gen {
			undo()
		}
	})
}

// Injector returns the cluster as a fault.Injector, so that fault schedules
// run in virtual time.
func (c *Cluster) Injector() fault.Injector { return injector{c} }

type injector struct{ *Cluster }

func (i injector) Crash(id paxi.ID, d time.Duration) error { return i.CrashFor(id, d) }

// CrashFor crashes a node and restarts it after d (d <= 0: until Heal or
// Restart). It implements fault.Injector's Crash.
func (c *Cluster) CrashFor(id paxi.ID, d time.Duration) error {
	c.Crash(id)
	c.until(d, func() { c.Restart(id) })
	return nil
}

// Drop loses messages from one node to another for d.
func (c *Cluster) Drop(from, to paxi.ID, d time.Duration) error {
	i := c.links.at(from, to)
	c.links.cut[i]++
	c.until(d, func() {
		if c.links.cut[i] > 0 {
			c.links.cut[i]--
		}
	})
	return nil
}

// Slow delays messages from one node to another by delay for d.
func (c *Cluster) Slow(from, to paxi.ID, delay, d time.Duration) error {
	i := c.links.at(from, to)
	c.links.slow[i] += delay
	c.until(d, func() { c.links.slow[i] = max(0, c.links.slow[i]-delay) })
	return nil
}

// Flaky loses each message from one node to another with probability p for d.
func (c *Cluster) Flaky(from, to paxi.ID, p float64, d time.Duration) error {
	i := c.links.at(from, to)
	old := c.links.flaky[i]
	c.links.flaky[i] = p
	c.until(d, func() { c.links.flaky[i] = old })
	return nil
}

// Heal ends every link fault and restarts every down node.
func (c *Cluster) Heal() error {
	c.healed++
	c.links.heal()
	for _, id := range c.ids {
		if err := c.Restart(id); err != nil {
			return err
		}
	}
	return nil
}
