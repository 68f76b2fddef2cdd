package native

import (
	"context"
	"sync"
	"time"
)

// deadlines hands out contexts that expire a timeout after the request
// asking for one, give or take a window: every request started within the
// same window shares one context, whose deadline is the window's end plus
// the timeout. A per-request context.WithTimeout costs a timer and a
// registration with its parent, about a tenth of the CPU of a request on
// the native path (measured against a 3-node cluster); here it is paid
// once per window. Timeouts run late by at most the window.
type deadlines struct {
	parent  context.Context
	timeout time.Duration
	window  time.Duration

	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc // kept so that the context is released: its timer does it too
	end    time.Time          // end of the current window
}

func newDeadlines(parent context.Context, timeout time.Duration) *deadlines {
	return &deadlines{parent: parent, timeout: timeout, window: min(max(timeout/16, time.Millisecond), 100*time.Millisecond)}
}

// get returns a context that expires between timeout and timeout + window
// from now, and ends with the parent.
func (d *deadlines) get() context.Context {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx == nil || now.After(d.end) {
		d.end = now.Add(d.window)
		d.ctx, d.cancel = context.WithDeadline(d.parent, d.end.Add(d.timeout))
	}
	return d.ctx
}
