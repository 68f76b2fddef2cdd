package apus

import (
	"fmt"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// Leader election (DARE's, PROTOCOLS.md §8.4), entirely over the control
// plane: heartbeats, vote requests and vote acks are one-sided WRITEs into
// the peers' control regions, read by the CPU when a watch fires or on the
// tick. Terms are Raft's: a node that sees a higher term adopts it, and
// adopting (or campaigning) revokes every log-plane access to this node's
// log by resetting the log queue pairs.

// resetElection restarts the failure detector with a fresh random timeout.
func (r *Replica) resetElection() {
	et := r.o.ElectionTimeout
	r.heard = r.env.Now()
	r.deadline = et + time.Duration(r.env.Rand().Int64N(int64(et)))
}

// handleTick runs every Heartbeat.
func (r *Replica) handleTick() {
	r.env.After(r.o.Heartbeat, tick{})
	now := r.env.Now()
	r.scanHeartbeats()
	if r.role == leader {
		r.heartbeat()
		for _, f := range r.fs {
			if f == nil {
				continue
			}
			if f.state == streaming {
				r.sync(f, true)
			} else {
				r.maybeAdjust(f)
			}
		}
		return
	}
	if r.role == follower && r.leader >= 0 {
		if w := r.ctl.Load64(8 * r.leader); w != r.lastHB {
			r.lastHB, r.heard = w, now
		}
		if now.Sub(r.ackedAt) >= r.o.ElectionTimeout {
			r.writeGrant()
			r.writeAck(true)
		}
	}
	if now.Sub(r.heard) >= r.deadline {
		r.campaign()
		return
	}
	r.resend(func(w *waiting) bool { return now.Sub(w.sent) >= r.o.Resend })
}

// heartbeat writes the leader's heartbeat word into every peer's control
// region.
func (r *Replica) heartbeat() {
	r.hb++
	w := hbWord(r.term, true, r.hb)
	for _, c := range r.conn {
		if c != nil {
			r.post(c.ctl, c.ctlEpoch, []rdma.WR{r.write(rkeyCtl, 8*r.me, word(w))})
		}
	}
}

// scanHeartbeats reads the heartbeat words peers wrote here: a higher term
// is adopted, the leader of this term is followed, and a stale leader is
// told the newer term (PROTOCOLS.md §8.6 pitfall 6), once per word it
// writes.
func (r *Replica) scanHeartbeats() {
	for i, c := range r.conn {
		if c == nil {
			continue
		}
		w := r.ctl.Load64(8 * i)
		t, isLeader := hbFields(w)
		if t > r.term {
			r.adopt(t)
		}
		switch {
		case isLeader && t == r.term && r.role == leader:
			panic(fmt.Sprintf("apus %v: %v leads term %d too: two leaders in one term", r.id, r.peers[i], t))
		case isLeader && t == r.term && r.leader != i:
			r.follow(i)
		case isLeader && t < r.term && r.role != leader && c.staleHB != w:
			if r.post(c.ctl, c.ctlEpoch, []rdma.WR{r.write(rkeyCtl, 8*r.me, word(hbWord(r.term, false, 0)))}) {
				c.staleHB = w
			}
		}
	}
}

// adopt moves to a higher term, as a follower that knows no leader yet.
func (r *Replica) adopt(t uint64) {
	if t <= r.term {
		panic(fmt.Sprintf("apus %v: adopt term %d from term %d", r.id, t, r.term))
	}
	if r.role == leader {
		r.env.Logger().Info("leader stepping down", "term", r.term, "new", t)
		r.fs = nil
		// Hand on what was queued from others; this node's own requests
		// are re-sent from waiting once the new leader is known.
		var keep []paxi.Request
		for _, req := range r.pending {
			if req.Node != r.id {
				keep = append(keep, req)
			}
		}
		r.pending = keep
	}
	r.term, r.role, r.leader, r.votedFor = t, follower, -1, -1
	r.revoke()
}

// revoke resets every log-plane queue pair: nobody can write this node's
// log any more (DARE's exclusive local access), until it grants the leader
// of its term. The end and commit words as they are now are kept: a change
// of either by a leader of an older term from now on is a broken fence.
func (r *Replica) revoke() {
	for _, c := range r.conn {
		if c != nil {
			must(r, c.log.Reset())
			c.logEpoch++
		}
	}
	r.fence = [2]uint64{r.log.Load64(offEnd), r.log.Load64(offCommit)}
	r.fenced = true
}

// checkFence panics if a leader of an older term changed this node's end
// or commit word after this node revoked its access.
func (r *Replica) checkFence() {
	if !r.fenced {
		return
	}
	for k, off := range [2]int{offEnd, offCommit} {
		w := r.log.Load64(off)
		if t, v := unpack(w); t < r.term && w != r.fence[k] {
			ot, ov := unpack(r.fence[k])
			panic(fmt.Sprintf("apus %v: in term %d, the word at %d changed from %d (term %d) to %d (term %d) after this node revoked the older leader's access",
				r.id, r.term, off, ov, ot, v, t))
		}
	}
}

// campaign starts an election for the next term.
func (r *Replica) campaign() {
	r.term++
	if r.term >= termMax {
		panic(fmt.Sprintf("apus %v: term %d overflows the words", r.id, r.term))
	}
	if r.role == leader {
		panic(fmt.Sprintf("apus %v: a leader campaigns", r.id))
	}
	r.role, r.leader, r.votedFor = candidate, -1, r.me
	r.revoke()
	r.resetElection()
	r.stats.Elections++
	v := voteReq{Term: r.term, LastIndex: r.end - 1, LastTerm: r.termAt(r.end - 1)}
	r.env.Logger().Debug("campaign", "term", r.term, "last", v.LastIndex)
	off := ctlBase(len(r.peers)) + r.me*recSize + recVoteReq
	for _, c := range r.conn {
		if c != nil {
			r.post(c.ctl, c.ctlEpoch, []rdma.WR{r.write(rkeyCtl, off, v.encode())})
		}
	}
	r.countVotes()
}

// countVotes makes a candidate with a majority of vote acks leader.
func (r *Replica) countVotes() {
	if r.role != candidate {
		return
	}
	base, votes := ctlBase(len(r.peers)), 1
	for i, c := range r.conn {
		if c != nil && r.ctl.Load64(base+i*recSize+recVoteAck) == r.term {
			votes++
		}
	}
	if votes > len(r.peers)/2 {
		r.becomeLeader()
	}
}

// scanControl reads the per-node records of the control region after a
// watch fired: vote requests, vote acks, and for a leader its followers'
// grants and acks.
func (r *Replica) scanControl() {
	base := ctlBase(len(r.peers))
	buf := make([]byte, voteReqSize)
	for i, c := range r.conn {
		if c == nil {
			continue
		}
		r.ctl.Read(base+i*recSize+recVoteReq, buf)
		v, ok := decodeVoteReq(buf)
		if !ok || v.Term < r.term {
			continue
		}
		if v.Term > r.term {
			r.adopt(v.Term)
		}
		if r.role == follower && r.leader < 0 && (r.votedFor < 0 || r.votedFor == i) && r.upToDate(v) {
			r.votedFor = i
			r.resetElection()
			if r.voteAcked != r.term {
				off := base + r.me*recSize + recVoteAck
				if r.post(c.ctl, c.ctlEpoch, []rdma.WR{r.write(rkeyCtl, off, word(r.term))}) {
					r.voteAcked = r.term
				}
			}
		}
	}
	r.countVotes()
	if r.role == leader {
		r.scanAcks()
	}
}

// upToDate is Raft's election restriction: vote only for a candidate whose
// log is at least as up to date as this node's, so that a leader holds
// every committed entry.
func (r *Replica) upToDate(v voteReq) bool {
	lt := r.termAt(r.end - 1)
	return v.LastTerm > lt || (v.LastTerm == lt && v.LastIndex >= r.end-1)
}

// follow makes leader i of this term this node's leader: it connects the
// log plane to it with write rights (the grant is announced once the
// queue pair is ready) and hands it the requests held here.
func (r *Replica) follow(i int) {
	if r.role == leader {
		panic(fmt.Sprintf("apus %v: leader of term %d follows %v", r.id, r.term, r.peers[i]))
	}
	r.role, r.leader = follower, i
	r.resetElection()
	r.lastHB = r.ctl.Load64(8 * i)
	if c := r.conn[i]; c.log.State() == rdma.Reset {
		must(r, c.log.Connect(logGrant))
	}
	r.env.Logger().Debug("following", "leader", r.peers[i], "term", r.term)
	r.forwardPending()
}

// writeGrant tells the leader, in its control region, that this node's log
// plane end is ready for it in this term.
func (r *Replica) writeGrant() {
	if r.role != follower || r.leader < 0 {
		return
	}
	c := r.conn[r.leader]
	if c.log.State() != rdma.RTS {
		return
	}
	off := ctlBase(len(r.peers)) + r.me*recSize + recGrant
	r.post(c.ctl, c.ctlEpoch, []rdma.WR{r.write(rkeyCtl, off, word(r.term))})
}

// writeAck writes this node's ack record (its verified end in this term's
// leader's log, and its applied count) into the leader's control region,
// if it changed or force is set.
func (r *Replica) writeAck(force bool) {
	if r.role != follower || r.leader < 0 || r.endTerm != r.term {
		return
	}
	rec := [2]uint64{pack(r.term, r.end), uint64(r.applied)}
	// The applied count is for the leader's flow control: a quarter of
	// the ring's worth of progress is worth a write of its own.
	if !force && rec[0] == r.acked[0] && rec[1] < r.acked[1]+uint64(r.o.Slots/4) {
		return
	}
	b := append(word(rec[0]), word(rec[1])...)
	c := r.conn[r.leader]
	off := ctlBase(len(r.peers)) + r.me*recSize + recAck
	if r.post(c.ctl, c.ctlEpoch, []rdma.WR{r.write(rkeyCtl, off, b)}) {
		r.acked, r.ackedAt = rec, r.env.Now()
		r.stats.Acks++
	}
}

// handleEvent handles the device's asynchronous events.
func (r *Replica) handleEvent(ev rdma.Event) {
	i := r.index(ev.Peer)
	if i < 0 {
		return
	}
	switch ev.Kind {
	case rdma.Connected:
		r.connected(i, ev.Channel)
	case rdma.QPFatal:
		r.reconnect(i, ev.Channel)
	}
}

func (r *Replica) index(id paxi.ID) int {
	for i, p := range r.peers {
		if p == id && i != r.me {
			return i
		}
	}
	return -1
}

// connected acts on a queue pair that reached RTS.
func (r *Replica) connected(i, ch int) {
	c := r.conn[i]
	switch ch {
	case chCtl:
		if c.ctl.State() == rdma.RTS && r.role == follower && r.leader == i {
			r.writeGrant()
			r.writeAck(true)
		}
	case chLog:
		if c.log.State() != rdma.RTS {
			return
		}
		switch {
		case r.role == follower && r.leader == i:
			r.writeGrant()
		case r.role == leader:
			f := r.fs[i]
			f.connected = true
			r.maybeAdjust(f)
		}
	}
}

// reconnect resets this node's end of a failed queue pair and connects it
// again: the control plane always, the log plane as a leader's requester
// end (no rights) or as the end granted to the leader this node follows.
// A log-plane end of any other peer stays reset: it grants nothing.
func (r *Replica) reconnect(i, ch int) {
	c := r.conn[i]
	switch ch {
	case chCtl:
		must(r, c.ctl.Reset())
		c.ctlEpoch++
		must(r, c.ctl.Connect(ctlRights))
	case chLog:
		must(r, c.log.Reset())
		c.logEpoch++
		switch {
		case r.role == leader:
			f := r.fs[i]
			f.connected, f.state = false, idle
			must(r, c.log.Connect(rdma.NoAccess))
		case r.role == follower && r.leader == i:
			must(r, c.log.Connect(logGrant))
		}
	}
}

// must panics on an error of a verb that cannot fail on a live device in
// the state the protocol keeps its queue pairs in.
func must(r *Replica, err error) {
	if err != nil {
		panic(fmt.Sprintf("apus %v: %v", r.id, err))
	}
}

// handleWC handles a work completion: errors reconnect the queue pair; a
// leader's successful READ finishes a log adjustment, and a signaled
// write's completion lets it stream on.
func (r *Replica) handleWC(wc rdma.WC) {
	i := r.index(wc.Peer)
	if i < 0 {
		return
	}
	c := r.conn[i]
	q, epoch := c.ctl, c.ctlEpoch
	if wc.Channel == chLog {
		q, epoch = c.log, c.logEpoch
	}
	if wc.Status != rdma.Success {
		r.stats.Failed++
		if q.State() == rdma.Err {
			r.reconnect(i, wc.Channel)
		}
		return
	}
	if wc.Channel != chLog || r.role != leader || wc.ID>>8 != epoch {
		return
	}
	f := r.fs[i]
	switch wc.ID & 0xff {
	case wrRead:
		if f.state == reading {
			r.adjust(f)
		}
	case wrSignal:
		r.sync(f, false)
	}
}
