package node

import (
	"errors"
	"fmt"
	"time"

	"github.com/ailidani/paxi-style/native"
	"github.com/ailidani/paxi-style/paxi"
)

// Submit hands cmd to the event loop and returns without waiting for it:
// done is called exactly once, with the reply or an error (the reply's
// error, paxi.ErrTimeout once timeout has passed, or paxi.ErrStopped).
//
// It is Do for servers that multiplex many requests over one connection
// (the native protocol): no goroutine waits per request, and no context is
// made for it. done runs on the event loop (or, when the node is stopped,
// on the caller's goroutine), so it must return at once and must not call
// the node. The timeout is checked when the loop sweeps, every
// min(1s, request_timeout/16), so it may fire that much late.
func (n *Node) Submit(cmd paxi.Command, timeout time.Duration, done func(paxi.Reply, error)) {
	c := &call{cmd: cmd, at: time.Now(), cb: done}
	c.deadline = c.at.Add(timeout)
	// The read lock keeps the loop's final drain (failSubmitted) from
	// running between the check and the hand-off: a call handed over after
	// it would never be answered.
	n.submitMu.RLock()
	defer n.submitMu.RUnlock()
	if n.submitClosed {
		n.answer(c, paxi.Reply{}, paxi.ErrStopped)
		return
	}
	select {
	case n.calls <- c:
	case <-n.done:
		n.answer(c, paxi.Reply{}, paxi.ErrStopped)
	}
}

// pending is a submitted call's handle and deadline, queued in submission
// order.
type pending struct {
	handle   uint64
	deadline time.Time
}

// answer completes a submitted call.
func (n *Node) answer(c *call, r paxi.Reply, err error) {
	if err == nil && r.Err != "" {
		err = errors.New(r.Err)
	}
	n.metrics.Request(c.at, err)
	c.cb(r, err)
}

// expireSubmitted answers the submitted calls whose deadline has passed
// with a timeout. Calls are queued in submission order, so it stops at the
// first that is still in time (a later call with a shorter timeout waits
// behind it).
func (n *Node) expireSubmitted(now time.Time) {
	i := 0
	for ; i < len(n.submitted); i++ {
		p := n.submitted[i]
		c, ok := n.waiters[p.handle]
		if !ok {
			continue // answered already
		}
		if now.Before(p.deadline) {
			break
		}
		delete(n.waiters, p.handle)
		n.answer(c, paxi.Reply{}, fmt.Errorf("%w: no reply within %v", paxi.ErrTimeout, p.deadline.Sub(c.at)))
	}
	n.submitted = n.submitted[i:]
	if len(n.submitted) == 0 {
		n.submitted = nil // let the backing array go
	}
}

// failSubmitted answers every submitted call still waiting when the loop
// ends.
func (n *Node) failSubmitted() {
	for _, p := range n.submitted {
		if c, ok := n.waiters[p.handle]; ok {
			delete(n.waiters, p.handle)
			n.answer(c, paxi.Reply{}, paxi.ErrStopped)
		}
	}
	n.submitted = nil
	// No call can be handed over after this; answer those that were but
	// were not taken from the channel.
	n.submitMu.Lock()
	defer n.submitMu.Unlock()
	n.submitClosed = true
	for {
		select {
		case c := <-n.calls:
			if c.cb != nil {
				n.answer(c, paxi.Reply{}, paxi.ErrStopped)
			}
		default:
			return
		}
	}
}

// sweepEvery is how often the loop expires waiting clients: often enough
// for Submit's timeouts to fire within a sixteenth of the request timeout.
func (n *Node) sweepEvery() time.Duration {
	return min(time.Second, max(10*time.Millisecond, time.Duration(n.cfg.RequestTimeout)/16))
}

// The native protocol server hands requests to a node with Submit.
var _ native.Submitter = (*Node)(nil)
