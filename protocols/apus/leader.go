package apus

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// Replication by the leader (PROTOCOLS.md §8.3): it appends entries to its
// own ring and streams them into each follower's ring with one-sided
// WRITEs, followed on the same queue pair by the follower's end word and,
// when it moved, its commit word. Followers acknowledge by writing their
// ack record into the leader's control region; a majority commits.

// Progress of the log plane to one follower.
const (
	idle      = iota // waiting for the queue pair and the follower's grant
	reading          // the adjustment READ is on its way
	streaming        // adjusted: entries flow
)

// follow is the leader's state for one follower.
type follow struct {
	i         int
	connected bool // the leader's log-plane end is in RTS
	granted   bool // the follower granted access in this term
	state     int
	next      int64 // next entry to write into its ring
	match     int64 // its ack in this term: its log equals ours below it
	applied   int64 // entries it applied: its ring holds [applied, applied+Slots)
	sentEnd   int64 // end word last posted (-1: none yet)
	sentCommt int64 // commit word last posted (-1: none yet)
	newEnd    bool  // write the adjusted end first, before any entry
	buf       []byte
}

// becomeLeader finishes an election won: the log plane is connected to
// every follower (each grants access on its side when it sees the
// heartbeat), a NOOP of the new term is appended (it commits the entries of
// earlier terms with it, Raft style), and the requests held here are
// queued.
func (r *Replica) becomeLeader() {
	r.role, r.leader = leader, r.me
	r.stats.Won++
	r.env.Logger().Info("leader", "term", r.term, "end", r.end, "applied", r.applied)
	r.commit = r.applied
	r.fs = make([]*follow, len(r.peers))
	for i, c := range r.conn {
		if c == nil {
			continue
		}
		r.fs[i] = &follow{i: i, sentEnd: -1, sentCommt: -1}
		must(r, c.log.Reset())
		c.logEpoch++
		must(r, c.log.Connect(rdma.NoAccess))
	}
	r.endTerm = r.term
	r.log.Store64(offEnd, pack(r.term, r.end))
	r.log.Store64(offCommit, pack(r.term, r.commit))
	r.termStart = r.end
	r.appendEntry(nil)
	r.heartbeat()
	var keep []paxi.Request
	for _, req := range r.pending {
		if req.Node != r.id {
			keep = append(keep, req)
		}
	}
	r.pending = keep
	r.resend(func(*waiting) bool { return true })
	r.scheduleFlush()
	r.maybeCommit()
}

// maxPayload is the largest payload of an entry.
func (r *Replica) maxPayload() int { return r.o.SlotSize - entryHeader - 5 }

// fits reports whether a command fits in a log slot by itself.
func (r *Replica) fits(c paxi.Command) bool { return commandSize(c) <= r.maxPayload() }

// append drains the queue of requests into entries while the ring has
// room. One slot is always kept free for the NOOP of a future leader.
func (r *Replica) append() {
	if r.role != leader {
		return
	}
	added := false
	for len(r.pending) > 0 && r.end < r.applied+int64(r.o.Slots)-1 {
		var cmds []paxi.Command
		size, n := 0, 0
		for ; n < len(r.pending) && len(cmds) < r.env.Config().BatchMax; n++ {
			s := commandSize(r.pending[n].Command)
			if len(cmds) > 0 && size+s > r.maxPayload() {
				break
			}
			cmds = append(cmds, r.pending[n].Command)
			size += s
		}
		r.pending = r.pending[n:]
		r.appendEntry(cmds)
		added = true
	}
	if len(r.pending) == 0 {
		r.pending = nil
	}
	if added {
		for _, f := range r.fs {
			if f != nil {
				r.sync(f, true)
			}
		}
		r.maybeCommit()
	}
}

// appendEntry writes the next entry of this term into the leader's ring.
func (r *Replica) appendEntry(cmds []paxi.Command) {
	if r.end >= r.applied+int64(r.o.Slots) {
		panic(fmt.Sprintf("apus %v: ring full: end %d, applied %d, %d slots", r.id, r.end, r.applied, r.o.Slots))
	}
	b := encodeEntry(entry{Index: r.end, Term: r.term, Cmds: cmds})
	if len(b) > r.o.SlotSize {
		panic(fmt.Sprintf("apus %v: entry of %d bytes in a slot of %d", r.id, len(b), r.o.SlotSize))
	}
	r.log.Write(r.slotOff(r.end), b)
	r.end++
	r.log.Store64(offEnd, pack(r.term, r.end))
	r.stats.Appended++
}

// scanAcks reads the followers' grants and ack records, commits what a
// majority holds, and streams on to followers whose rings made room.
func (r *Replica) scanAcks() {
	base := ctlBase(len(r.peers))
	for i, f := range r.fs {
		if f == nil {
			continue
		}
		rec := base + i*recSize
		if !f.granted && r.ctl.Load64(rec+recGrant) == r.term {
			f.granted = true
			r.maybeAdjust(f)
		}
		f.applied = max(f.applied, int64(r.ctl.Load64(rec+recApplied)))
		if t, e := unpack(r.ctl.Load64(rec + recAck)); t == r.term && e > f.match {
			if e > r.end {
				panic(fmt.Sprintf("apus %v: %v acks end %d in term %d, beyond the leader's end %d", r.id, r.peers[i], e, t, r.end))
			}
			f.match = e
		}
	}
	r.maybeCommit()
	for _, f := range r.fs {
		if f != nil {
			r.sync(f, false)
		}
	}
}

// maybeCommit advances the commit index to the highest end a majority
// holds, if that end covers an entry of this term (entries of earlier
// terms commit only with one of this term, Raft §5.4.2).
func (r *Replica) maybeCommit() {
	if r.role != leader {
		return
	}
	ends := []int64{r.end}
	for _, f := range r.fs {
		if f != nil {
			ends = append(ends, f.match)
		}
	}
	slices.Sort(ends)
	slices.Reverse(ends)
	n := ends[len(r.peers)/2]
	if n <= r.commit || n <= r.termStart {
		return
	}
	r.commit = n
	r.log.Store64(offCommit, pack(r.term, r.commit))
	r.apply(r.commit)
	if len(r.pending) > 0 {
		r.scheduleFlush()
	}
}

// maybeAdjust starts the log adjustment of a follower once the leader's
// end of the log plane is ready and the follower granted access: one READ
// of the follower's whole log region (header and ring).
func (r *Replica) maybeAdjust(f *follow) {
	if r.role != leader || !f.connected || !f.granted || f.state != idle {
		return
	}
	c := r.conn[f.i]
	f.buf = make([]byte, r.log.Len())
	wr := rdma.WR{ID: wrID(c.logEpoch, wrRead), Op: rdma.Read, Local: f.buf, RKey: rkeyLog, Signaled: true}
	if r.post(c.log, c.logEpoch, []rdma.WR{wr}) {
		f.state = reading
	}
}

// adjust is DARE's log adjustment, one-sided Raft log matching: from the
// follower's applied count (everything below it is committed, so the
// same here), find the first entry of its ring that is not this leader's
// entry (torn, another index, or another term): the follower's log is cut
// there by the first end word written, and entries stream from it.
func (r *Replica) adjust(f *follow) {
	buf := f.buf
	f.buf = nil
	_, e := unpack(binary.LittleEndian.Uint64(buf[offEnd:]))
	app := int64(binary.LittleEndian.Uint64(buf[offApplied:]))
	if app > r.end {
		panic(fmt.Sprintf("apus %v: %v applied %d entries, beyond this leader's end %d: a committed entry is missing here",
			r.id, r.peers[f.i], app, r.end))
	}
	f.applied = max(f.applied, app)
	m := app
	for j := app; j < min(e, r.end); j++ {
		off := r.slotOff(j)
		idx, term, _, err := checkEntry(buf[off : off+r.o.SlotSize])
		if err != nil || idx != j || term != r.termAt(j) {
			break
		}
		m = j + 1
	}
	f.next, f.newEnd, f.sentEnd, f.sentCommt, f.state = m, true, -1, -1, streaming
	r.stats.Adjusted++
	r.sync(f, true)
}

// sync posts to a follower what it lacks: entries (as far as its ring has
// room), then its header, the end and commit words in one 16-byte WRITE,
// on the log plane, in that order. The commit word alone is sent lazily
// (withCommit: on the heartbeat tick), as in APUS; otherwise it rides on
// the next header write. Leaving room means the rest follows on the next
// signaled completion.
func (r *Replica) sync(f *follow, withCommit bool) {
	if r.role != leader || f.state != streaming {
		return
	}
	c := r.conn[f.i]
	room := r.room(c.log) - 2
	if room <= 0 {
		return
	}
	next := f.next
	var wrs []rdma.WR
	limit := min(r.end, f.applied+int64(r.o.Slots)-1)
	if f.newEnd && next < limit {
		wrs = append(wrs, r.write(rkeyLog, offEnd, word(pack(r.term, next))))
	}
	for ; next < limit && len(wrs) < room; next++ {
		wrs = append(wrs, r.write(rkeyLog, r.slotOff(next), r.entryBytes(next)))
	}
	if next != f.sentEnd || (withCommit && r.commit != f.sentCommt) {
		hdr := append(word(pack(r.term, next)), word(pack(r.term, r.commit))...)
		wrs = append(wrs, r.write(rkeyLog, offEnd, hdr))
	} else {
		next = f.next
		wrs = nil
	}
	if len(wrs) == 0 || !r.post(c.log, c.logEpoch, wrs) {
		return
	}
	f.next, f.sentEnd, f.sentCommt, f.newEnd = next, next, r.commit, false
}

// entryBytes is entry j as written in a slot: copied from the ring if it
// is still there, encoded again from the history if not (a follower far
// behind).
func (r *Replica) entryBytes(j int64) []byte {
	if j < r.applied {
		return encodeEntry(r.hist[j])
	}
	off := r.slotOff(j)
	n := int(binary.LittleEndian.Uint32(word(r.log.Load64(off + 16)))) // the length, in the header's third word
	buf := make([]byte, entryHeader+n)
	r.log.Read(off, buf)
	return buf
}
