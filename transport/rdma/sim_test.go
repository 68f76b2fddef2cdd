package rdma_test

import (
	"testing"

	"github.com/ailidani/paxi-style/transport/rdma/rdmatest"
)

// The sim backend passes the conformance suite.
func TestSimConformance(t *testing.T) { rdmatest.Run(t, rdmatest.Sim) }
