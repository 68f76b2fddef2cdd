package transport_test

import (
	"testing"

	"github.com/ailidani/paxi-style/transport/transporttest"
)

func TestTCP(t *testing.T) { transporttest.Run(t, transporttest.TCP()) }
