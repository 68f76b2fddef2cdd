package wankeeper

import (
	"github.com/ailidani/paxi-style/paxi"
)

// Token transfers. The master (the leader of the master zone) decides every
// change of holder in its zone's log (Grant, Return); holder zones log the
// arrival and departure of a token in theirs (TokenIn, TokenOut). A transfer
// is two-phase, as in the paper: revoke -> return -> grant. All the state
// below the master's throttles is derived from the logs, so a new master
// (or a new holder zone leader) carries on where the old one stopped.

// masterRequest is the master's decision for a request on a key whose token
// another zone holds: queue it and revoke the token, unless it comes from
// the holder zone itself, which has simply not taken the token yet.
func (w *WanKeeper) masterRequest(r paxi.Request) {
	key := r.Command.Key
	t := w.k.tokenOf(key, w.master)
	if r.Node.Zone() == t.holder && len(w.queued[key]) == 0 && w.k.released[t.holder][key].epoch != t.epoch {
		if l := w.leaderOf(t.holder); l != 0 {
			w.env.Send(l, r)
			if w.k.granting[key] {
				w.sendToken(key, false)
			}
			return
		}
	}
	w.queued[key] = append(w.queued[key], r)
	w.maybeRevoke(key)
}

// maybeRevoke asks the holder of key's token to give it back, at most once
// per retry interval.
func (w *WanKeeper) maybeRevoke(key string) {
	t := w.k.table[key]
	if t == nil || t.holder == w.master {
		return
	}
	now := w.env.Now()
	if at, ok := w.revokeSent[key]; ok && now.Sub(at) < w.retry() {
		return
	}
	w.revokeSent[key] = now
	w.sendToZone(t.holder, Revoke{Key: key, Epoch: t.epoch})
}

// maybeReturn proposes the Return of a token whose holder's log shows the
// TokenOut, at most once per retry interval.
func (w *WanKeeper) maybeReturn(key string) {
	z, ok := w.k.returnable[key]
	if !ok {
		return
	}
	rel := w.k.released[z][key]
	t := w.k.tokenOf(key, w.master)
	switch {
	case t.epoch > rel.epoch:
		delete(w.k.returnable, key) // returned already
		return
	case t.holder != z || t.epoch != rel.epoch:
		return // the master log is behind the holder's here; wait
	}
	now := w.env.Now()
	if at, ok := w.returnSent[key]; ok && now.Sub(at) < w.retry() {
		return
	}
	w.returnSent[key] = now
	w.push(Record{Kind: Return, Key: key, Zone: z, Epoch: rel.epoch, Last: rel.last}, nil)
}

// maybeGrant applies the grant policy after the master executed a command
// on key: a token goes to a remote zone once Threshold commands in a row
// came from it and nobody else waits for the key.
func (w *WanKeeper) maybeGrant(key string) {
	t := w.k.table[key]
	if t == nil || t.holder != w.master || t.streakZone == w.master || t.streak < w.opts.Threshold || len(w.queued[key]) > 0 {
		return
	}
	now := w.env.Now()
	if at, ok := w.grantAsked[key]; ok && now.Sub(at) < w.retry() {
		return
	}
	w.grantAsked[key] = now
	w.push(Record{Kind: Grant, Key: key, Zone: t.streakZone, Epoch: t.epoch + 1}, nil)
}

// sendToken sends the holder zone its token, unless sent within the retry
// interval (and not forced).
func (w *WanKeeper) sendToken(key string, force bool) {
	t := w.k.table[key]
	if t == nil || t.holder == w.master {
		return
	}
	now := w.env.Now()
	if at, ok := w.grantSent[key]; ok && !force && now.Sub(at) < w.retry() {
		return
	}
	w.grantSent[key] = now
	w.sendToZone(t.holder, Token{Key: key, Epoch: t.epoch, Last: t.last})
}

// sendToZone sends m to zone z's leader, or to all of z if none is known.
func (w *WanKeeper) sendToZone(z int, m paxi.Message) {
	if l := w.leaderOf(z); l != 0 {
		w.env.Send(l, m)
		return
	}
	w.env.MulticastZone(z, m)
}

// masterDuties runs on the master's ticks: tokens granted but not taken
// are sent again, released tokens are returned, and tokens wanted for
// queued requests are revoked (again).
func (w *WanKeeper) masterDuties() {
	for _, key := range sortedMapKeys(w.k.granting) {
		t := w.k.table[key]
		if t == nil || t.holder == w.master || w.k.seen[t.holder][key] >= t.epoch {
			delete(w.k.granting, key)
			continue
		}
		w.sendToken(key, false)
	}
	for _, key := range sortedMapKeys(w.k.returnable) {
		w.maybeReturn(key)
	}
	for _, key := range sortedMapKeys(w.queued) {
		if w.Holds(w.master, key) {
			rs := w.queued[key]
			delete(w.queued, key)
			for _, r := range rs {
				w.lead(r)
			}
			continue
		}
		w.maybeRevoke(key)
	}
}

// forwardToLeader passes a token message from another zone to this zone's
// leader when this node does not lead (one hop only).
func (w *WanKeeper) forwardToLeader(from paxi.ID, m paxi.Message) {
	if from.Zone() == w.zone {
		return
	}
	if l := w.leaderOf(w.zone); l != 0 && l != w.id {
		w.env.Send(l, m)
	}
}

// handleToken: a holder zone's leader logs the arrival of a granted token.
func (w *WanKeeper) handleToken(from paxi.ID, m Token) {
	if !w.active {
		w.forwardToLeader(from, m)
		return
	}
	if w.zone == w.master || w.k.seen[w.zone][m.Key] >= m.Epoch || w.wantIn[m.Key] >= m.Epoch {
		return
	}
	w.wantIn[m.Key] = m.Epoch
	w.push(Record{Kind: TokenIn, Key: m.Key, Zone: w.zone, Epoch: m.Epoch, Last: m.Last}, nil)
}

// handleRevoke: a holder zone's leader logs the departure of a token. The
// TokenOut is ordered after every command already in the log, which commit
// with the key slots before it, and before every later one, which bounce to
// the master: a revocation neither loses nor reorders proposals in flight
// (pitfall 1 of the paper's sketch), and the key slot the token leaves at
// is exact (pitfall 2).
func (w *WanKeeper) handleRevoke(from paxi.ID, m Revoke) {
	if !w.active {
		w.forwardToLeader(from, m)
		return
	}
	if w.zone == w.master || w.wantOut[m.Key] == m.Epoch {
		return
	}
	h := w.k.holds[w.zone][m.Key]
	if (h == nil || h.epoch != m.Epoch) && w.wantIn[m.Key] != m.Epoch {
		return // not (or no longer) this zone's tenure
	}
	w.wantOut[m.Key] = m.Epoch
	w.push(Record{Kind: TokenOut, Key: m.Key, Zone: w.zone, Epoch: m.Epoch}, nil)
}
