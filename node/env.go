package node

import (
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/store"
)

// env is the runtime's paxi.Env. Its methods run on the event loop only.
type env struct {
	n *Node
}

var _ paxi.Env = env{}

func (e env) ID() paxi.ID          { return e.n.id }
func (e env) Config() *paxi.Config { return e.n.cfg }
func (e env) Peers() []paxi.ID     { return e.n.peers }
func (e env) Now() time.Time       { return time.Now() }
func (e env) Rand() *rand.Rand     { return e.n.rand }
func (e env) Store() *store.Store  { return e.n.store }
func (e env) Logger() *slog.Logger { return e.n.log }
func (e env) Send(to paxi.ID, m paxi.Message) {
	e.n.send(to, m)
}

func (e env) Broadcast(m paxi.Message) {
	for _, id := range e.n.peers {
		if id != e.n.id {
			e.n.send(id, m)
		}
	}
}

func (e env) Multicast(to []paxi.ID, m paxi.Message) {
	for _, id := range to {
		e.n.send(id, m)
	}
}

func (e env) MulticastZone(z int, m paxi.Message) {
	for _, id := range e.n.peers {
		if id != e.n.id && id.Zone() == z {
			e.n.send(id, m)
		}
	}
}

func (e env) Reply(req paxi.Request, rep paxi.Reply) {
	rep.Node, rep.Handle = req.Node, req.Handle
	if req.Node == e.n.id {
		e.n.deliverReply(rep)
		return
	}
	e.n.send(req.Node, rep)
}

func (e env) After(d time.Duration, m paxi.Message) paxi.TimerID {
	n := e.n
	n.nextTimer++
	id := paxi.TimerID(n.nextTimer)
	n.timers[id] = time.AfterFunc(d, func() {
		select {
		case n.timerc <- timerFire{id: id, msg: m}:
		case <-n.done:
		}
	})
	return id
}

func (e env) Cancel(id paxi.TimerID) {
	if t, ok := e.n.timers[id]; ok {
		t.Stop()
		delete(e.n.timers, id)
	}
}
