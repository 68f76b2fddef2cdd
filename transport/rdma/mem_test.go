package rdma_test

import (
	"testing"
	"time"

	"github.com/ailidani/paxi-style/transport/rdma"
	"github.com/ailidani/paxi-style/transport/rdma/rdmatest"
)

// memNet builds a mem fabric of n hosts, closed when the test ends.
func memNet(t *testing.T) rdmatest.Factory {
	return func(n int, o rdma.Options) (rdmatest.Net, error) {
		m, err := rdma.NewMem(realTimeCosts(o))
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { m.Close() })
		return rdmatest.RealTime(m, n), nil
	}
}

// The mem backend passes the conformance suite.
func TestMemConformance(t *testing.T) { rdmatest.Run(t, memNet(t)) }

// realTimeCosts lengthens the permission change to 2 ms for the suite in
// real time: its revoke race posts writes at instants spread over the
// change's cost, and on a small shared machine a goroutine can be late by
// a few hundred microseconds, which would put every write after a 20 µs
// revoke. The property checked (a write lands whole or not at all,
// before or after the instant) does not depend on the cost.
func realTimeCosts(o rdma.Options) rdma.Options {
	if o.Profile.Name == "" {
		o.Profile = rdma.CX5EDR1Switch()
	}
	o.Profile.AccessChange = max(o.Profile.AccessChange, 2*time.Millisecond)
	return o
}
