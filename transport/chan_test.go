package transport_test

import (
	"testing"

	"github.com/ailidani/paxi-style/transport/transporttest"
)

func TestChan(t *testing.T) { transporttest.Run(t, transporttest.Chan()) }

// TestFaultyConformance runs the suite through Faulty with no fault set:
// the wrapper must keep every guarantee of what it wraps.
func TestFaultyConformance(t *testing.T) {
	t.Run("chan", func(t *testing.T) { transporttest.Run(t, transporttest.WithFaulty(transporttest.Chan())) })
	t.Run("tcp", func(t *testing.T) { transporttest.Run(t, transporttest.WithFaulty(transporttest.TCP())) })
}
