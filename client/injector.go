package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/ailidani/paxi-style/fault"
	"github.com/ailidani/paxi-style/paxi"
)

// Injector applies faults to a running cluster through its nodes' fault
// endpoints, so that a fault schedule written for the simulator runs
// unchanged against real processes.
type Injector struct {
	cfg     *paxi.Config
	timeout time.Duration
}

var _ fault.Injector = (*Injector)(nil)

// NewInjector returns an Injector for the cluster cfg describes; it sends
// cfg's admin token, if any.
func NewInjector(cfg *paxi.Config) *Injector { return &Injector{cfg: cfg, timeout: 3 * time.Second} }

func (in *Injector) node(id paxi.ID) *REST {
	return NewREST(in.cfg.HTTPAddrs[id], "", in.timeout).WithToken(in.cfg.AdminToken)
}

func (in *Injector) admin(id paxi.ID, what string, q url.Values) error {
	ctx, cancel := context.WithTimeout(context.Background(), in.timeout)
	defer cancel()
	if err := in.node(id).Admin(ctx, what, q); err != nil {
		return fmt.Errorf("node %v: %w", id, err)
	}
	return nil
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

// Nodes implements fault.Injector.
func (in *Injector) Nodes() []paxi.ID { return in.cfg.IDs() }

// Leader asks every node whom it follows and returns the most common
// answer among the nodes that reply.
func (in *Injector) Leader() (paxi.ID, bool) {
	votes := map[paxi.ID]int{}
	var best paxi.ID
	for _, id := range in.cfg.IDs() {
		ctx, cancel := context.WithTimeout(context.Background(), in.timeout)
		st, err := in.node(id).Status(ctx)
		cancel()
		if err != nil || st.Leader == 0 {
			continue
		}
		votes[st.Leader]++
		if votes[st.Leader] > votes[best] {
			best = st.Leader
		}
	}
	return best, best != 0
}

// Crash implements fault.Injector with /crash.
func (in *Injector) Crash(id paxi.ID, d time.Duration) error {
	return in.admin(id, "crash", url.Values{"t": {secs(d)}})
}

// Restart implements fault.Injector: /heal on that node ends its crash
// (and its other faults).
func (in *Injector) Restart(id paxi.ID) error { return in.admin(id, "heal", nil) }

// Drop implements fault.Injector with /drop on the sending node.
func (in *Injector) Drop(from, to paxi.ID, d time.Duration) error {
	return in.admin(from, "drop", url.Values{"id": {to.String()}, "t": {secs(d)}})
}

// Slow implements fault.Injector with /slow on the sending node.
func (in *Injector) Slow(from, to paxi.ID, delay, d time.Duration) error {
	return in.admin(from, "slow", url.Values{"id": {to.String()}, "t": {secs(d)},
		"delay": {strconv.FormatFloat(float64(delay)/float64(time.Millisecond), 'f', -1, 64)}})
}

// Flaky implements fault.Injector with /flaky on the sending node.
func (in *Injector) Flaky(from, to paxi.ID, p float64, d time.Duration) error {
	return in.admin(from, "flaky", url.Values{"id": {to.String()}, "t": {secs(d)}, "p": {strconv.FormatFloat(p, 'f', -1, 64)}})
}

// Heal implements fault.Injector with /heal on every node.
func (in *Injector) Heal() error {
	var errs []error
	for _, id := range in.cfg.IDs() {
		errs = append(errs, in.admin(id, "heal", nil))
	}
	return errors.Join(errs...)
}
