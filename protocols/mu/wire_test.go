package mu_test

import (
	"fmt"
	"testing"

	"github.com/ailidani/paxi-style/protocols/mu"
	"github.com/ailidani/paxi-style/store"
	"github.com/ailidani/paxi-style/transport"
)

// Mu's two-sided messages survive the transport codec, so the protocol
// runs across processes with the real transport.
func TestMessagesRoundTrip(t *testing.T) {
	s := store.New()
	s.Apply(put("k", "v"))
	c := transport.NewCodec(mu.Messages...)
	for _, m := range []any{mu.SnapshotRequest{Index: 7}, mu.Snapshot{Index: 9, Store: s.Snapshot()}} {
		b, err := c.Marshal(m.(interface{ String() string }))
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", m) {
			t.Errorf("round trip of %v gave %v", m, got)
		}
	}
}
