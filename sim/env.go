package sim

import (
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/store"
)

// node implements paxi.Env for one simulated replica.
var _ paxi.Env = (*node)(nil)

func (n *node) ID() paxi.ID          { return n.id }
func (n *node) Config() *paxi.Config { return n.c.cfg }
func (n *node) Peers() []paxi.ID     { return n.c.ids }
func (n *node) Now() time.Time       { return n.c.now }
func (n *node) Rand() *rand.Rand     { return n.rng }
func (n *node) Store() *store.Store  { return n.store }
func (n *node) Logger() *slog.Logger { return n.log }

func (n *node) Send(to paxi.ID, m paxi.Message) { n.c.transmit(n.id, to, m) }

func (n *node) Broadcast(m paxi.Message) {
	for _, id := range n.c.ids {
		if id != n.id {
			n.c.transmit(n.id, id, m)
		}
	}
}

func (n *node) Multicast(to []paxi.ID, m paxi.Message) {
	for _, id := range to {
		n.c.transmit(n.id, id, m)
	}
}

func (n *node) MulticastZone(z int, m paxi.Message) {
	for _, id := range n.c.ids {
		if id != n.id && id.Zone() == z {
			n.c.transmit(n.id, id, m)
		}
	}
}

func (n *node) Reply(req paxi.Request, rep paxi.Reply) {
	rep.Node, rep.Handle = req.Node, req.Handle
	n.c.transmit(n.id, req.Node, rep)
}

func (n *node) After(d time.Duration, m paxi.Message) paxi.TimerID {
	n.next++
	n.timers[n.next] = true
	n.c.push(n.c.now.Add(d), n.id, n.id, m, n.next)
	return n.next
}

func (n *node) Cancel(id paxi.TimerID) { delete(n.timers, id) }
