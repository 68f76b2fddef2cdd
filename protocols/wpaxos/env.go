package wpaxos

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/paxos"
	"github.com/ailidani/paxi-style/store"
)

// keyEnv is the paxi.Env an object's Paxos instance runs in: the node's Env
// with every message wrapped with the object's key on the way out, and
// timers kept on the node's timer list instead of one runtime timer per
// object. The instance cannot tell it is one of many.
type keyEnv struct {
	w  *WPaxos
	in *instance
}

var _ paxi.Env = keyEnv{}

func (e keyEnv) ID() paxi.ID          { return e.w.id }
func (e keyEnv) Config() *paxi.Config { return e.w.cfg }
func (e keyEnv) Peers() []paxi.ID     { return e.w.peers }
func (e keyEnv) Now() time.Time       { return e.w.env.Now() }
func (e keyEnv) Rand() *rand.Rand     { return e.w.env.Rand() }
func (e keyEnv) Store() *store.Store  { return e.w.env.Store() }

// Logger returns the node's logger with the object's key, made on first use
// so that objects that never log cost nothing.
func (e keyEnv) Logger() *slog.Logger {
	if e.in.log == nil {
		e.in.log = e.w.env.Logger().With("key", e.in.key)
	}
	return e.in.log
}

func (e keyEnv) Send(to paxi.ID, m paxi.Message) { e.w.env.Send(to, e.wrap(m)) }

// Broadcast wraps m and broadcasts it, except that an owner's heartbeats
// that say nothing new are sent at growing intervals (see quietHeartbeat).
func (e keyEnv) Broadcast(m paxi.Message) {
	if hb, ok := m.(paxos.Heartbeat); ok && e.in.quietHeartbeat(hb) {
		return
	}
	e.w.env.Broadcast(e.wrap(m))
}

func (e keyEnv) Multicast(to []paxi.ID, m paxi.Message) { e.w.env.Multicast(to, e.wrap(m)) }

func (e keyEnv) MulticastZone(z int, m paxi.Message) { e.w.env.MulticastZone(z, e.wrap(m)) }

// Reply answers a client and notes the progress for the object's stale
// request detection.
func (e keyEnv) Reply(req paxi.Request, rep paxi.Reply) {
	if req.Node == e.w.id {
		e.w.answered(e.in)
	}
	e.w.env.Reply(req, rep)
}

// After puts the timer on the node's list; the node's tick fires it, so an
// object's timer goes off up to one heartbeat interval late. The Paxos
// instance only sets its heartbeat-interval tick, for which that is fine,
// and a thousand objects cost one runtime timer, not a thousand.
func (e keyEnv) After(d time.Duration, m paxi.Message) paxi.TimerID {
	w := e.w
	w.nextTimer++
	w.timers = append(w.timers, timer{due: w.env.Now().Add(d), id: w.nextTimer, in: e.in, msg: m})
	return w.nextTimer
}

// Cancel stops a timer set with After.
func (e keyEnv) Cancel(id paxi.TimerID) {
	for i := range e.w.timers {
		if e.w.timers[i].id == id {
			e.w.timers[i].in = nil
			return
		}
	}
}

// wrap turns a Paxos message of the object into its WPaxos message.
func (e keyEnv) wrap(m paxi.Message) paxi.Message {
	k := e.in.key
	switch m := m.(type) {
	case paxos.P1a:
		return Prepare{Key: k, P1a: m}
	case paxos.P1b:
		return Promise{Key: k, P1b: m}
	case paxos.P2a:
		return Accept{Key: k, P2a: m}
	case paxos.P2b:
		return Accepted{Key: k, P2b: m}
	case paxos.P3:
		return Commit{Key: k, P3: m}
	case paxos.Heartbeat:
		return Heartbeat{Key: k, Heartbeat: m}
	case paxos.CatchUp:
		return CatchUp{Key: k, CatchUp: m}
	case paxi.Request:
		if m.Command.Key != k {
			panic(fmt.Sprintf("wpaxos %v: object %q forwards a request for %q", e.w.id, k, m.Command.Key))
		}
		return Forward{Ballot: e.in.p.Ballot(), Hops: e.w.hops + 1, Request: m}
	}
	panic(fmt.Sprintf("wpaxos %v: object %q sends %T, which WPaxos does not wrap", e.w.id, k, m))
}

// timer is an object's timer on the node's list.
type timer struct {
	due time.Time
	id  paxi.TimerID
	in  *instance // nil: cancelled
	msg paxi.Message
}

// heartbeatEveryMax bounds the interval, in ticks, between an owner's
// heartbeats for an object that does not change: about 1.6 s at the default
// 50 ms heartbeat, so a node that lost a Commit of an idle object learns it
// within that.
const heartbeatEveryMax = 32

// quietHeartbeat reports whether an owner's heartbeat for the object may be
// skipped. One that differs from the last one sent (new ballot, slot or
// committed prefix) always goes out, and the interval drops back to one
// tick; one that repeats it goes out after 1, 2, 4, ... ticks up to
// heartbeatEveryMax. Followers do not elect on silence (paxos.Options
// Passive), so a skipped heartbeat never starts an election: heartbeats only
// let nodes that lost a message catch up.
func (in *instance) quietHeartbeat(hb paxos.Heartbeat) bool {
	if hb != in.hbLast {
		in.hbLast, in.hbEvery, in.hbSkipped = hb, 1, 0
		return false
	}
	in.hbSkipped++
	if in.hbSkipped < in.hbEvery {
		return true
	}
	in.hbSkipped = 0
	in.hbEvery = min(2*in.hbEvery, heartbeatEveryMax)
	return false
}
