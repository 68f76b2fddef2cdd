package transport_test

import (
	"testing"

	"github.com/ailidani/paxi-style/transport/transporttest"
)

func TestUDP(t *testing.T) { transporttest.Run(t, transporttest.UDP()) }
