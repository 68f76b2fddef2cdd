package wankeeper

import (
	"fmt"

	"github.com/ailidani/paxi-style/paxi"
)

// Applying zone logs. Every node applies every zone's log in slot order, and
// every node derives from them the same token table, the same holdings and
// the same key slots: a command's key slot is a function of the log it is
// in, and a command is applied to the store in key-slot order, whichever
// log it came from.

// exec applies zone z's committed slots in order.
func (w *WanKeeper) exec(z int) {
	if w.executing[z] {
		return // a record being applied led to this call; the loop below continues
	}
	w.executing[z] = true
	defer func() { w.executing[z] = false }()
	l := w.k.logs[z]
	for {
		e := l.at(l.execute)
		if e == nil || !e.committed {
			return
		}
		for _, r := range e.recs {
			w.applyRecord(z, r)
		}
		l.execute++
		if z == w.zone && w.active {
			w.advanceCommit()
		}
	}
}

func (w *WanKeeper) applyRecord(z int, r Record) {
	inMaster := z == w.master
	switch r.Kind {
	case Noop:
	case Cmd:
		w.applyCmd(z, r)
	case TokenIn, TokenOut:
		if inMaster {
			panic(fmt.Sprintf("wankeeper %v: %v in the master zone's log", w.id, r))
		}
		if r.Kind == TokenIn {
			w.applyTokenIn(z, r)
		} else {
			w.applyTokenOut(z, r)
		}
	case Grant, Return:
		if !inMaster {
			panic(fmt.Sprintf("wankeeper %v: %v in zone %d's log, not the master zone's", w.id, r, z))
		}
		if r.Kind == Grant {
			w.applyGrant(r)
		} else {
			w.applyReturn(r)
		}
	default:
		panic(fmt.Sprintf("wankeeper %v: unknown record %v in zone %d's log", w.id, r, z))
	}
}

// applyCmd gives a command the next key slot of its key if zone z holds the
// key's token at this point of its log; otherwise the command bounces: it
// is not executed, and the zone leader that proposed it routes it again.
func (w *WanKeeper) applyCmd(z int, r Record) {
	key := r.Command.Key
	var slot int64
	if z == w.master {
		t := w.k.tokenOf(key, w.master)
		if t.holder != w.master {
			w.bounce(z, r)
			return
		}
		slot = t.next
		t.next++
		if r.Zone == t.streakZone {
			t.streak++
		} else {
			t.streakZone, t.streak = r.Zone, 1
		}
	} else {
		h := w.k.holds[z][key]
		if h == nil {
			w.bounce(z, r)
			return
		}
		slot = h.next
		h.next++
	}
	if z == w.zone {
		delete(w.inlog, keyOf(r.Command))
	}
	w.learnFact(key, slot, r.Command)
	if z == w.master && w.IsMaster() {
		w.maybeGrant(key)
	}
}

// bounce routes again a command that reached the log after its zone lost
// (or before it got) the key's token, if this node proposed it.
func (w *WanKeeper) bounce(z int, r Record) {
	if z != w.zone || !w.active {
		return
	}
	k := keyOf(r.Command)
	if req, ok := w.inlog[k]; ok {
		delete(w.inlog, k)
		w.lead(req)
	}
}

func (w *WanKeeper) applyTokenIn(z int, r Record) {
	if r.Epoch > w.k.seen[z][r.Key] {
		if h := w.k.holds[z][r.Key]; h != nil {
			panic(fmt.Sprintf("wankeeper %v: zone %d takes %v while it holds the token at epoch %d", w.id, z, r, h.epoch))
		}
		w.k.seen[z][r.Key] = r.Epoch
		w.k.holds[z][r.Key] = &tenure{epoch: r.Epoch, next: r.Last + 1}
	}
	if z == w.zone && w.active && w.wantIn[r.Key] != 0 && w.wantIn[r.Key] <= r.Epoch {
		delete(w.wantIn, r.Key)
		rs := w.awaiting[r.Key]
		delete(w.awaiting, r.Key)
		for _, req := range rs {
			w.lead(req)
		}
	}
}

func (w *WanKeeper) applyTokenOut(z int, r Record) {
	if z == w.zone && w.wantOut[r.Key] == r.Epoch {
		delete(w.wantOut, r.Key)
	}
	h := w.k.holds[z][r.Key]
	if h == nil || h.epoch != r.Epoch {
		return // a revocation of a tenure that is over, or has not begun here
	}
	w.k.released[z][r.Key] = release{epoch: r.Epoch, last: h.next - 1}
	delete(w.k.holds[z], r.Key)
	w.k.returnable[r.Key] = z
	if w.IsMaster() {
		w.maybeReturn(r.Key)
	}
}

func (w *WanKeeper) applyGrant(r Record) {
	t := w.k.tokenOf(r.Key, w.master)
	if w.IsMaster() {
		delete(w.grantAsked, r.Key)
	}
	if t.holder != w.master || r.Epoch != t.epoch+1 || r.Zone == w.master {
		return // the master gave the token away already, or it is not back
	}
	t.holder, t.epoch, t.last, t.next = r.Zone, r.Epoch, t.next-1, -1
	t.streakZone, t.streak = 0, 0
	w.k.granting[r.Key] = true
	if w.IsMaster() {
		w.sendToken(r.Key, true)
	}
}

func (w *WanKeeper) applyReturn(r Record) {
	t := w.k.tokenOf(r.Key, w.master)
	if t.holder != r.Zone || t.epoch != r.Epoch {
		return // returned already
	}
	if rel, ok := w.k.released[r.Zone][r.Key]; ok && rel.epoch == r.Epoch && rel.last != r.Last {
		panic(fmt.Sprintf("wankeeper %v: %v, but zone %d's log released the token after key slot %d", w.id, r, r.Zone, rel.last))
	}
	t.holder, t.epoch, t.next, t.last = w.master, r.Epoch+1, r.Last+1, -1
	t.streakZone, t.streak = 0, 0
	delete(w.k.granting, r.Key)
	if w.IsMaster() {
		delete(w.returnSent, r.Key)
		rs := w.queued[r.Key]
		delete(w.queued, r.Key)
		delete(w.revokeSent, r.Key)
		for _, req := range rs {
			w.lead(req)
		}
	}
}

// learnFact records that key slot s of key holds cmd, and applies the key's
// commands that are now next in order.
func (w *WanKeeper) learnFact(key string, s int64, cmd paxi.Command) {
	ks := w.k.keys[key]
	if ks == nil {
		ks = &keyState{facts: map[int64]paxi.Command{}}
		w.k.keys[key] = ks
	}
	if s < ks.next {
		panic(fmt.Sprintf("wankeeper %v: key %s slot %d learnt again (%v) after it was applied", w.id, key, s, cmd))
	}
	if old, ok := ks.facts[s]; ok {
		if !old.Same(cmd) || old.Op != cmd.Op {
			panic(fmt.Sprintf("wankeeper %v: key %s slot %d holds %v and %v", w.id, key, s, old, cmd))
		}
		return
	}
	ks.facts[s] = cmd
	for {
		c, ok := ks.facts[ks.next]
		if !ok {
			return
		}
		delete(ks.facts, ks.next)
		w.execute(c, ks.next)
		ks.next++
	}
}

// execute applies a command to the store and answers the clients of this
// node waiting for it.
func (w *WanKeeper) execute(c paxi.Command, slot int64) {
	res := w.env.Store().Apply(c)
	k := keyOf(c)
	if wt := w.waiting[k]; wt != nil {
		for _, r := range wt.reqs {
			w.env.Reply(r, paxi.NewReply(r, res, slot, 0))
		}
		delete(w.waiting, k)
	}
}
