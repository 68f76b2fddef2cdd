// Package fault describes fault schedules that know roles ("at 10s crash the
// leader; at 12s partition zone 2 from the rest; at 20s heal") and applies
// them through an Injector. The simulator implements Injector in virtual
// time and the command line implements it against a real cluster through
// the nodes' fault endpoints, so one schedule file runs unchanged in both.
//
// # Text form
//
// One action per line; blank lines and text after # are ignored:
//
//	at 10s crash leader                 crash a node (until heal, or "for 3s")
//	at 10s crash 1.2 for 3s
//	at 11s restart 1.2                  end a node's crash
//	at 12s partition zone 2             zone 2 against every other zone
//	at 12s partition 1.1 1.2 | 1.3      explicit groups, separated by |
//	at 12s isolate leader for 5s        one node against the rest
//	at 15s drop 1.1 -> 1.2 for 3s       one-way loss
//	at 16s slow leader -> 1.3 50ms      extra one-way delay
//	at 17s flaky 1.1 -> 1.2 0.3         one-way loss with probability 0.3
//	at 20s heal                         end every fault
//
// A node is a zone.node ID, "leader" (the node that leads when the action
// runs) or "follower" (the lowest-numbered node that does not lead).
//
// # JSON form
//
// A JSON array of objects with the same words:
//
//	[{"at": "10s", "action": "crash", "nodes": ["leader"], "for": "3s"},
//	 {"at": "12s", "action": "partition", "groups": [["1.1", "1.2"], ["1.3"]]},
//	 {"at": "15s", "action": "drop", "from": "1.1", "to": "1.2", "for": "3s"},
//	 {"at": "20s", "action": "heal"}]
package fault

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ailidani/paxi-style/paxi"
)

// Injector applies faults to a cluster. A duration d <= 0 means until Heal.
type Injector interface {
	// Nodes lists the cluster's nodes, sorted.
	Nodes() []paxi.ID
	// Leader returns the node that currently leads, if the protocol has
	// one and it is known.
	Leader() (paxi.ID, bool)
	// Crash stops a node from sending or receiving anything for d.
	Crash(id paxi.ID, d time.Duration) error
	// Restart ends a node's crash.
	Restart(id paxi.ID) error
	// Drop loses every message from one node to another for d.
	Drop(from, to paxi.ID, d time.Duration) error
	// Slow delays every message from one node to another by delay for d.
	Slow(from, to paxi.ID, delay, d time.Duration) error
	// Flaky loses each message from one node to another with probability
	// p for d.
	Flaky(from, to paxi.ID, p float64, d time.Duration) error
	// Heal ends every fault.
	Heal() error
}

// Kinds of action.
const (
	Crash     = "crash"
	Restart   = "restart"
	Partition = "partition"
	Isolate   = "isolate"
	Drop      = "drop"
	Slow      = "slow"
	Flaky     = "flaky"
	Heal      = "heal"
)

// Node names a node by ID or by role.
type Node struct {
	// Role is "leader" or "follower"; empty when ID names the node.
	Role string
	ID   paxi.ID
}

// String returns the role or the ID.
func (n Node) String() string {
	if n.Role != "" {
		return n.Role
	}
	return n.ID.String()
}

// Group is a set of nodes on one side of a partition: listed nodes, or a
// whole zone.
type Group struct {
	Nodes []Node
	Zone  int
}

func (g Group) String() string {
	if g.Zone != 0 {
		return fmt.Sprintf("zone %d", g.Zone)
	}
	parts := make([]string, len(g.Nodes))
	for i, n := range g.Nodes {
		parts[i] = n.String()
	}
	return strings.Join(parts, " ")
}

// Action is one scheduled fault.
type Action struct {
	// At is when the action runs, from the start of the run.
	At time.Duration
	// Kind is one of the kinds above.
	Kind string
	// Nodes are the nodes of crash, restart and isolate.
	Nodes []Node
	// Groups are the sides of a partition; a single group is cut from all
	// other nodes.
	Groups []Group
	// From and To are the link of drop, slow and flaky.
	From, To Node
	// For is how long the fault lasts (0: until heal).
	For time.Duration
	// Delay is slow's extra delay; P is flaky's loss probability.
	Delay time.Duration
	P     float64
}

// String prints the action in the text form.
func (a Action) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "at %v %s", a.At, a.Kind)
	switch a.Kind {
	case Crash, Restart, Isolate:
		for _, n := range a.Nodes {
			b.WriteString(" " + n.String())
		}
	case Partition:
		for i, g := range a.Groups {
			if i > 0 {
				b.WriteString(" |")
			}
			b.WriteString(" " + g.String())
		}
	case Drop:
		fmt.Fprintf(&b, " %v -> %v", a.From, a.To)
	case Slow:
		fmt.Fprintf(&b, " %v -> %v %v", a.From, a.To, a.Delay)
	case Flaky:
		fmt.Fprintf(&b, " %v -> %v %g", a.From, a.To, a.P)
	}
	if a.For > 0 {
		fmt.Fprintf(&b, " for %v", a.For)
	}
	return b.String()
}

// Schedule is a list of actions sorted by time (stable for equal times).
type Schedule []Action

// String prints the schedule in the text form, one action per line.
func (s Schedule) String() string {
	var b strings.Builder
	for _, a := range s {
		b.WriteString(a.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// End returns the time of the last action.
func (s Schedule) End() time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1].At
}

// resolve turns a Node into an ID at the moment an action runs.
func resolve(inj Injector, n Node) (paxi.ID, error) {
	switch n.Role {
	case "":
		if !slices.Contains(inj.Nodes(), n.ID) {
			return 0, fmt.Errorf("node %v is not in the cluster %v", n.ID, inj.Nodes())
		}
		return n.ID, nil
	case "leader":
		l, ok := inj.Leader()
		if !ok {
			return 0, errors.New("no leader is known")
		}
		return l, nil
	case "follower":
		l, _ := inj.Leader()
		for _, id := range inj.Nodes() {
			if id != l {
				return id, nil
			}
		}
		return 0, errors.New("no follower: the cluster has one node")
	}
	return 0, fmt.Errorf("unknown role %q", n.Role)
}

func (g Group) members(inj Injector) ([]paxi.ID, error) {
	if g.Zone != 0 {
		var ids []paxi.ID
		for _, id := range inj.Nodes() {
			if id.Zone() == g.Zone {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("zone %d has no nodes", g.Zone)
		}
		return ids, nil
	}
	var ids []paxi.ID
	for _, n := range g.Nodes {
		id, err := resolve(inj, n)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// Apply runs the action through inj, resolving roles now.
func (a Action) Apply(inj Injector) error {
	err := a.apply(inj)
	if err != nil {
		return fmt.Errorf("fault: %v: %w", a, err)
	}
	return nil
}

func (a Action) apply(inj Injector) error {
	switch a.Kind {
	case Heal:
		return inj.Heal()
	case Crash, Restart:
		for _, n := range a.Nodes {
			id, err := resolve(inj, n)
			if err != nil {
				return err
			}
			if a.Kind == Crash {
				err = inj.Crash(id, a.For)
			} else {
				err = inj.Restart(id)
			}
			if err != nil {
				return err
			}
		}
		return nil
	case Isolate, Partition:
		groups := a.Groups
		if a.Kind == Isolate {
			groups = []Group{{Nodes: a.Nodes}}
		}
		sides := make([][]paxi.ID, 0, len(groups)+1)
		var placed []paxi.ID
		for _, g := range groups {
			ids, err := g.members(inj)
			if err != nil {
				return err
			}
			sides = append(sides, ids)
			placed = append(placed, ids...)
		}
		if len(sides) == 1 { // one group against the rest
			var rest []paxi.ID
			for _, id := range inj.Nodes() {
				if !slices.Contains(placed, id) {
					rest = append(rest, id)
				}
			}
			sides = append(sides, rest)
		}
		for i, a1 := range sides {
			for j, a2 := range sides {
				if i == j {
					continue
				}
				for _, from := range a1 {
					for _, to := range a2 {
						if err := inj.Drop(from, to, a.For); err != nil {
							return err
						}
					}
				}
			}
		}
		return nil
	case Drop, Slow, Flaky:
		from, err := resolve(inj, a.From)
		if err != nil {
			return err
		}
		to, err := resolve(inj, a.To)
		if err != nil {
			return err
		}
		if from == to {
			return fmt.Errorf("%v and %v are the same node", a.From, a.To)
		}
		switch a.Kind {
		case Drop:
			return inj.Drop(from, to, a.For)
		case Slow:
			return inj.Slow(from, to, a.Delay, a.For)
		default:
			return inj.Flaky(from, to, a.P, a.For)
		}
	}
	return fmt.Errorf("unknown action %q", a.Kind)
}
