package mu

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// phase is where a leader is in its replication algorithm.
type phase int

const (
	idle      phase = iota
	preparing       // slow path 1: READ every member's log header (minProposal, applied)
	catching        // slow path 1b: READ decided slots from the most advanced member
	snapWait        // slow path 1c: waiting for a Snapshot (the slots were recycled)
	promising       // slow path 2: catch members up, WRITE minProposal
	reading         // slow path 3: READ the slot at the first undecided index
	accepting       // slow path 4 or fast path: WRITE the slot, wait for a majority
)

var phaseNames = [...]string{"idle", "preparing", "catching", "snapWait", "promising", "reading", "accepting"}

func (p phase) String() string { return phaseNames[p] }

// leader is the state of a node that leads (or asks to).
type leader struct {
	req      map[paxi.ID]uint64    // last request number written to each peer
	mark     map[paxi.ID]uint64    // a grant counts if it answers a request number at least this
	reqAt    map[paxi.ID]time.Time // when the last request was written
	granted  map[paxi.ID]bool
	synced   map[paxi.ID]bool   // in the fast path: its log holds every decided index
	fA       map[paxi.ID]uint64 // its applied index, as last read
	refBuf   map[paxi.ID][]byte
	refresh  map[paxi.ID]bool
	snapSent map[paxi.ID]time.Time
	selfOK   bool // no peer can write this node's own log any more
	propNr   paxi.Ballot
	fast     bool

	phase   phase
	round   uint32
	started int              // scan count when the round began
	in      map[paxi.ID]bool // the round's members
	ok      map[paxi.ID]bool
	out     map[paxi.ID]int // signaled operations outstanding per member
	bufs    map[paxi.ID][]byte
	index   uint64
	value   *paxi.Command
	adopted bool
	src     paxi.ID
	lo, hi  uint64 // self catch-up range
	since   time.Time

	queue  []paxi.Request
	queued map[cmdKey]bool
}

func newLeader(r *Replica) *leader {
	l := &leader{req: map[paxi.ID]uint64{}, mark: map[paxi.ID]uint64{}, reqAt: map[paxi.ID]time.Time{},
		granted: map[paxi.ID]bool{}, synced: map[paxi.ID]bool{}, fA: map[paxi.ID]uint64{}, refBuf: map[paxi.ID][]byte{},
		refresh: map[paxi.ID]bool{}, snapSent: map[paxi.ID]time.Time{}, queued: map[cmdKey]bool{}}
	for _, p := range r.peers {
		l.mark[p] = r.reqNr + 1
		l.refBuf[p] = make([]byte, 24)
	}
	return l
}

// enqueue takes a client request to replicate.
func (l *leader) enqueue(r *Replica, req paxi.Request) {
	k := cmdKey{req.Command.ClientID, req.Command.CommandID}
	if l.queued[k] {
		return
	}
	if n := len(encodeCommand(req.Command)); n > r.o.SlotSize-slotOverhead {
		r.env.Reply(req, paxi.Reply{Err: fmt.Sprintf("mu: command of %d bytes does not fit a %d-byte slot", n, r.o.SlotSize)})
		return
	}
	l.queued[k] = true
	l.queue = append(l.queue, req)
	l.maybeStart(r)
}

// scanGrants reads the grant slots: a grant answering a request made
// since the peer was last lost makes it a follower (after a slow path).
func (l *leader) scanGrants(r *Replica) {
	for _, p := range r.peers {
		if v := r.ctrl.Load64(r.grantOff(p)); !l.granted[p] && v != 0 && v >= l.mark[p] {
			l.granted[p], l.synced[p], l.fast = true, false, false
		}
	}
	l.maybeStart(r)
}

// lose drops p after a failed operation: it may have granted another
// leader, or its queue pair failed. Ask again.
func (l *leader) lose(r *Replica, p paxi.ID) {
	l.granted[p], l.synced[p], l.fast = false, false, false
	delete(l.in, p)
	delete(l.out, p)
	l.mark[p] = r.reqNr + 1
	l.reqAt[p] = time.Time{}
	l.askAgain(r, p)
}

func (l *leader) askAgain(r *Replica, p paxi.ID) {
	if !l.granted[p] && (l.reqAt[p].IsZero() || r.env.Now().Sub(l.reqAt[p]) >= r.o.Retry) && !r.reqBusy[p] {
		r.request(p)
		l.reqAt[p] = r.env.Now()
	}
}

func (l *leader) onScan(r *Replica) {
	for _, p := range r.peers {
		l.askAgain(r, p)
	}
	switch l.phase {
	case idle:
		if l.fast {
			for _, p := range r.peers {
				if l.granted[p] && !l.synced[p] && r.out(chRepl, p).Outstanding() == 0 {
					l.fast = false // a responsive follower left out: bring it in with a slow path
				}
			}
		}
		l.maybeStart(r)
	case snapWait:
		if r.env.Now().Sub(l.since) >= r.o.Retry {
			l.phase = idle
			l.maybeStart(r)
		}
	case preparing:
		if r.scans > l.started && len(l.ok)+1 >= r.maj {
			for p := range l.out {
				delete(l.in, p) // too slow to wait for: leave it for the next slow path
			}
			clear(l.out)
			l.progress(r)
		}
	}
}

func (l *leader) grantedCount() int {
	n := 0
	for _, g := range l.granted {
		if g {
			n++
		}
	}
	return n
}

// maybeStart starts the next piece of work if the leader is free: a slow
// path after any change of permissions or error, else the next request on
// the fast path.
func (l *leader) maybeStart(r *Replica) {
	if r.lead != l || l.phase != idle || !l.selfOK || l.grantedCount()+1 < r.maj {
		return
	}
	if !l.fast {
		l.prepare(r)
		return
	}
	if len(l.queue) > 0 {
		l.propose(r)
	}
}

// begin opens a round of phase ph with members in.
func (l *leader) begin(r *Replica, ph phase, in map[paxi.ID]bool) {
	l.round++
	l.phase, l.in, l.started = ph, in, r.scans
	l.ok, l.out, l.bufs = map[paxi.ID]bool{}, map[paxi.ID]int{}, map[paxi.ID][]byte{}
}

// postRound posts w to p as part of the current round.
func (l *leader) postRound(r *Replica, p paxi.ID, w rdma.WR) {
	w.ID = wrID(wrRound, l.round)
	if r.out(chRepl, p).Outstanding() >= r.dev.Profile().SendQueue/2 || !r.post(p, chRepl, w) {
		// Half the send queue outstanding: the peer has not answered for a
		// long time (unreachable until the RC timeout says so). Leave it out.
		delete(l.in, p)
		return
	}
	if w.Signaled {
		l.out[p]++
	}
}

// prepare is slow path step 1: read every granted follower's header.
func (l *leader) prepare(r *Replica) {
	in := map[paxi.ID]bool{}
	for _, p := range r.peers {
		if q := r.out(chRepl, p); l.granted[p] && q.State() == rdma.RTS && q.Outstanding() < r.dev.Profile().SendQueue/2 {
			in[p] = true
		}
	}
	if len(in)+1 < r.maj {
		return
	}
	r.resetReplayer()
	r.replayFrom(true) // apply what this node's own log already says is decided
	l.begin(r, preparing, in)
	r.stats.SlowPaths++
	for _, p := range r.peers {
		if in[p] {
			l.bufs[p] = make([]byte, 24)
			l.postRound(r, p, rdma.WR{Op: rdma.Read, Local: l.bufs[p], RemoteAddr: offMinProposal, RKey: logKey, Signaled: true})
		}
	}
	l.progress(r)
}

func (l *leader) handleWC(r *Replica, wc rdma.WC) {
	p := wc.Peer
	if wrKind(wc.ID) == wrCommit {
		if wc.Status != rdma.Success {
			l.lose(r, p)
			l.progress(r)
		}
		return
	}
	if wrKind(wc.ID) == wrRefresh {
		l.refresh[p] = false
		if wc.Status == rdma.Success {
			l.fA[p] = max(l.fA[p], binary.LittleEndian.Uint64(l.refBuf[p][offApplied:]))
		} else {
			l.lose(r, p)
		}
		return
	}
	current := wrRoundOf(wc.ID) == l.round&0xffffff && l.phase != idle && l.out[p] > 0
	if wc.Status != rdma.Success {
		l.lose(r, p)
		l.progress(r)
		return
	}
	if current {
		if l.out[p]--; l.out[p] == 0 {
			delete(l.out, p)
			l.ok[p] = true
			l.progress(r)
		}
	}
}

// progress moves the round on when a majority (this node included)
// answered, or gives up when no majority can.
func (l *leader) progress(r *Replica) {
	switch l.phase {
	case idle, snapWait:
		return
	case catching:
		if l.ok[l.src] {
			l.catchUpSelf(r)
		} else if !l.in[l.src] {
			l.fail(r)
		}
		return
	}
	if len(l.ok)+1 >= r.maj && (l.phase != preparing || len(l.out) == 0) {
		l.advance(r)
	} else if len(l.ok)+len(l.out)+1 < r.maj {
		l.fail(r)
	}
}

// fail abandons the round: back to idle, a slow path at the next scan.
func (l *leader) fail(r *Replica) {
	if l.phase == accepting && l.value != nil && !l.adopted {
		l.requeue(r)
	}
	l.phase, l.fast, l.value = idle, false, nil
}

func (l *leader) requeue(r *Replica) {
	// The value may still be decided by the slow path adopting it; the
	// store executes a command once however often the log holds it.
	req := paxi.Request{Command: *l.value, Node: r.me}
	k := cmdKey{req.Command.ClientID, req.Command.CommandID}
	if !l.queued[k] {
		l.queued[k] = true
		l.queue = append([]paxi.Request{req}, l.queue...)
	}
}

func (l *leader) advance(r *Replica) {
	switch l.phase {
	case preparing:
		l.prepared(r)
	case promising:
		l.readSlot(r, r.applied)
	case reading:
		l.chooseValue(r)
	case accepting:
		l.decide(r)
	}
}

// prepared: the headers are in. Catch this node up if a member applied
// more; else pick a proposal number above every member's, catch members
// up and write it (the Paxos prepare, made atomic by the permissions).
func (l *leader) prepared(r *Replica) {
	maxMin, maxA, src := paxi.Ballot(r.log.Load64(offMinProposal)), r.applied, r.me
	for _, p := range r.peers {
		if !l.ok[p] {
			continue
		}
		b := l.bufs[p]
		maxMin = max(maxMin, paxi.Ballot(binary.LittleEndian.Uint64(b[offMinProposal:])))
		a := binary.LittleEndian.Uint64(b[offApplied:])
		l.fA[p] = a
		if a > maxA {
			maxA, src = a, p
		}
	}
	in := l.ok
	if maxA > r.applied {
		l.lo, l.hi, l.src = r.applied, maxA, src
		if maxA-r.applied > uint64(r.o.Slots) {
			l.askSnapshot(r)
			return
		}
		l.begin(r, catching, map[paxi.ID]bool{src: true})
		buf := make([]byte, int(maxA-r.applied)*r.o.SlotSize)
		l.bufs[src] = buf
		for _, s := range l.segments(r, r.applied, maxA) {
			l.postRound(r, src, rdma.WR{Op: rdma.Read, Local: buf[s.at : s.at+s.n], RemoteAddr: uint64(r.slotOff(s.from)), RKey: logKey, Signaled: true})
		}
		l.progress(r)
		return
	}
	l.propNr = max(l.propNr, maxMin).Next(r.me)
	r.log.Store64(offMinProposal, uint64(l.propNr))
	l.begin(r, promising, in)
	for _, p := range r.peers {
		if !in[p] {
			continue
		}
		if !l.catchUp(r, p) {
			delete(l.in, p)
			continue
		}
		l.postRound(r, p, rdma.WR{Op: rdma.Write, Local: word(uint64(l.propNr)), RemoteAddr: offMinProposal, RKey: logKey, Signaled: true, Inline: true})
	}
	l.progress(r)
}

// segment is a run of consecutive indices in consecutive slots.
type segment struct {
	from uint64
	at   int // offset in the caller's buffer
	n    int // bytes
}

// segments splits [lo, hi) (at most Slots indices) where the circular log
// wraps.
func (l *leader) segments(r *Replica, lo, hi uint64) []segment {
	var out []segment
	for i := lo; i < hi; {
		run := min(hi-i, uint64(r.o.Slots)-i%uint64(r.o.Slots))
		out = append(out, segment{from: i, at: int(i-lo) * r.o.SlotSize, n: int(run) * r.o.SlotSize})
		i += run
	}
	return out
}

// catchUpSelf applies the decided slots read from the most advanced
// member, then starts the slow path over.
func (l *leader) catchUpSelf(r *Replica) {
	buf := l.bufs[l.src]
	var got []slot
	for i := l.lo; i < l.hi; i++ {
		b := buf[int(i-l.lo)*r.o.SlotSize:][:r.o.SlotSize]
		s, st := readSlot(b, i, r.o.TrustPlacement)
		if st != slotValid {
			l.askSnapshot(r) // recycled there already
			return
		}
		got = append(got, s)
	}
	for i, s := range got {
		if s.index != r.applied {
			panic(fmt.Sprintf("mu: %v: self catch-up slot %d while applied is %d", r.me, s.index, r.applied))
		}
		r.log.Write(r.slotOff(s.index), buf[i*r.o.SlotSize:][:r.o.SlotSize])
		r.apply(s)
	}
	l.phase = idle
	l.maybeStart(r)
}

func (l *leader) askSnapshot(r *Replica) {
	l.phase, l.since = snapWait, r.env.Now()
	r.env.Send(l.src, SnapshotRequest{Index: r.applied})
}

// catchUp writes the decided slots p lacks, [fA, applied), restamped with
// this leader's proposal number, then the commit index. It returns false
// when this node's log no longer holds them: p gets a snapshot instead and
// stays out until it has applied it.
func (l *leader) catchUp(r *Replica, p paxi.ID) bool {
	lo, hi := l.fA[p], r.applied
	if lo >= hi {
		return true
	}
	var buf []byte
	if hi-lo <= uint64(r.o.Slots) {
		buf = make([]byte, int(hi-lo)*r.o.SlotSize)
		for i := lo; i < hi; i++ {
			b := make([]byte, r.o.SlotSize)
			r.log.Read(r.slotOff(i), b)
			s, st := readSlot(b, i, r.o.TrustPlacement)
			if st != slotValid {
				buf = nil
				break
			}
			s.proposal, s.fuo = l.propNr, i+1
			copy(buf[int(i-lo)*r.o.SlotSize:], encodeSlot(s))
		}
	}
	if buf == nil {
		if t, ok := l.snapSent[p]; !ok || r.env.Now().Sub(t) >= r.o.Retry {
			l.snapSent[p] = r.env.Now()
			r.env.Send(p, Snapshot{Index: r.applied, Store: r.env.Store().Snapshot()})
		}
		return false
	}
	for _, s := range l.segments(r, lo, hi) {
		l.postRound(r, p, rdma.WR{Op: rdma.Write, Local: buf[s.at : s.at+s.n], RemoteAddr: uint64(r.slotOff(s.from)), RKey: logKey, Signaled: true})
	}
	l.postCommit(r, p, hi)
	return true
}

// readSlot is slow path step 3: read the slot at index i everywhere.
func (l *leader) readSlot(r *Replica, i uint64) {
	in := l.members()
	l.begin(r, reading, in)
	l.index = i
	for _, p := range r.peers {
		if in[p] {
			l.bufs[p] = make([]byte, r.o.SlotSize)
			l.postRound(r, p, rdma.WR{Op: rdma.Read, Local: l.bufs[p], RemoteAddr: uint64(r.slotOff(i)), RKey: logKey, Signaled: true})
		}
	}
	l.progress(r)
}

// members are the round's members still in it, answered or not.
func (l *leader) members() map[paxi.ID]bool {
	in := map[paxi.ID]bool{}
	for p, ok := range l.in {
		if ok && l.granted[p] {
			in[p] = true
		}
	}
	return in
}

// chooseValue adopts the value with the highest accepted proposal found
// at the index, or takes the next client command, or, with neither, ends
// the slow path.
func (l *leader) chooseValue(r *Replica) {
	own := make([]byte, r.o.SlotSize)
	r.log.Read(r.slotOff(l.index), own)
	best, found := readSlot(own, l.index, r.o.TrustPlacement)
	for _, p := range r.peers {
		if !l.ok[p] {
			continue
		}
		if s, st := readSlot(l.bufs[p], l.index, r.o.TrustPlacement); st == slotValid && (found != slotValid || s.proposal > best.proposal) {
			best, found = s, st
		}
	}
	switch {
	case found == slotValid:
		l.accept(r, best.cmd, true)
	case len(l.queue) > 0:
		l.accept(r, l.pop(), false)
	default:
		l.endSlowPath(r)
	}
}

func (l *leader) pop() paxi.Command {
	req := l.queue[0]
	l.queue = l.queue[1:]
	delete(l.queued, cmdKey{req.Command.ClientID, req.Command.CommandID})
	return req.Command
}

func (l *leader) endSlowPath(r *Replica) {
	l.fast, l.phase = true, idle
	for _, p := range r.peers {
		l.synced[p] = l.in[p] && l.granted[p]
	}
}

// propose is the fast path: the next command straight into the synced
// followers' logs.
func (l *leader) propose(r *Replica) {
	i := r.applied
	in := map[paxi.ID]bool{}
	for _, p := range r.peers {
		if !l.synced[p] || !l.granted[p] || r.out(chRepl, p).State() != rdma.RTS {
			continue
		}
		if i >= l.fA[p]+uint64(r.o.Slots) {
			l.synced[p] = false // it has not applied what slot i would overwrite
		} else {
			in[p] = true
		}
		if i >= l.fA[p]+uint64(r.o.Slots)/2 && !l.refresh[p] && r.post(p, chRepl, rdma.WR{ID: wrID(wrRefresh, 0), Op: rdma.Read,
			Local: l.refBuf[p], RemoteAddr: offMinProposal, RKey: logKey, Signaled: true}) {
			l.refresh[p] = true
		}
	}
	if len(in)+1 < r.maj {
		l.fast = false
		return
	}
	l.begin(r, accepting, in)
	l.accept(r, l.pop(), false)
}

// accept writes cmd at l.index (slow path step 4, or the fast path) into
// this node's log and the members'.
func (l *leader) accept(r *Replica, cmd paxi.Command, adopted bool) {
	if l.phase != accepting {
		l.begin(r, accepting, l.members())
	}
	l.index, l.value, l.adopted = r.applied, &cmd, adopted
	b := encodeSlot(slot{index: l.index, proposal: l.propNr, fuo: l.index, cmd: cmd})
	r.log.Write(r.slotOff(l.index), b)
	inline := len(b) <= r.dev.Profile().InlineMax
	for _, p := range r.peers {
		if l.in[p] {
			l.postRound(r, p, rdma.WR{Op: rdma.Write, Local: b, RemoteAddr: uint64(r.slotOff(l.index)), RKey: logKey, Signaled: true, Inline: inline})
		}
	}
	l.progress(r)
}

// decide: a majority holds the slot. Apply it, publish the commit index,
// and go on.
func (l *leader) decide(r *Replica) {
	s := slot{index: l.index, proposal: l.propNr, fuo: l.index, cmd: *l.value}
	r.apply(s)
	r.log.Store64(offCommit, r.applied)
	in := l.members()
	for _, p := range r.peers {
		if in[p] {
			l.postCommit(r, p, r.applied)
		}
	}
	adopted := l.adopted
	l.value = nil
	switch {
	case l.fast:
		r.stats.FastCommits++
		l.phase = idle
	case adopted:
		l.readSlot(r, r.applied) // the paper's loop: adopt until a free slot
		return
	default:
		l.in = in
		l.endSlowPath(r)
	}
	l.maybeStart(r)
}

// postCommit writes the commit index into p's log header, so that p
// applies the last decided slot without waiting for the next one. It is
// signaled so that no send-queue slot stays held (an unsignaled request
// keeps its slot until a later signaled one completes); its completion is
// ignored unless it failed.
func (l *leader) postCommit(r *Replica, p paxi.ID, commit uint64) {
	r.post(p, chRepl, rdma.WR{ID: wrID(wrCommit, 0), Op: rdma.Write, Local: word(commit), RemoteAddr: offCommit, RKey: logKey, Signaled: true, Inline: true})
}
