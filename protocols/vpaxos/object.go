package vpaxos

import (
	"fmt"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/quorum"
)

// entry is one slot of an object's log at a node.
type entry struct {
	ballot    paxi.Ballot // ballot the command was voted at, or copied with
	cmd       paxi.Command
	committed bool
	// Primary only, for the slots it proposes.
	acks     quorum.Tracker
	proposed time.Time    // first sent in the current ballot
	sent     time.Time    // last (re)sent
	req      paxi.Request // the request, to hand on if the primary is fenced
	hasReq   bool
}

// cmdKey names a client command within an object's log.
type cmdKey struct {
	client string
	id     uint64
}

// object is a node's state for one key: acceptor and learner of its log,
// and, when it leads the object, its leadership.
type object struct {
	key string

	// Durable: what the node promised, voted, installed and applied.
	maxBal    paxi.Ballot // highest ballot promised (P1a, Transfer, P2a)
	installed paxi.Ballot // ballot whose Transfer this node installed last
	log       []*entry
	execute   int64 // next slot to apply; every slot below is applied
	view      paxi.Ballot
	index     map[cmdKey]int64 // slot of each client command seen in the log

	// Volatile.
	lead      *leadership
	queue     []paxi.Request // requests waiting for the master's record
	query     uint64         // the outstanding Query op, if any
	stale     bool           // the outstanding query is about stuck requests
	lastStale paxi.Ballot    // issued ballot the last stale query found
	changed   time.Time      // primary: last commit, for beats
}

func newObject(key string) *object {
	return &object{key: key, index: map[cmdKey]int64{}}
}

// maxSlotGap bounds how far beyond the log's end a message may name a
// slot, so that a corrupt slot number cannot make a node allocate without
// bound.
const maxSlotGap = 1 << 20

func (o *object) at(s int64) *entry {
	if s < 0 || s >= int64(len(o.log)) {
		return nil
	}
	return o.log[s]
}

func (o *object) set(s int64, e *entry) {
	if !o.valid(s) {
		panic(fmt.Sprintf("vpaxos: object %q: slot %d out of range (log has %d slots)", o.key, s, len(o.log)))
	}
	for int64(len(o.log)) <= s {
		o.log = append(o.log, nil)
	}
	o.log[s] = e
	if e != nil && e.cmd.Op != paxi.Noop {
		o.index[cmdKey{e.cmd.ClientID, e.cmd.CommandID}] = s
	}
}

// valid reports whether a slot number from a message is plausible.
func (o *object) valid(s int64) bool { return s >= 0 && s-int64(len(o.log)) <= maxSlotGap }

// sameCommand reports whether two log values are the same command.
func sameCommand(a, b paxi.Command) bool {
	return a.Op == b.Op && a.Key == b.Key && a.Same(b)
}

// entries returns the node's entries from slot from to slot to (inclusive)
// as they travel in P1b and Transfer.
func (o *object) entries(from, to int64) []Entry {
	var out []Entry
	for s := max(from, 0); s <= to && s < int64(len(o.log)); s++ {
		if e := o.log[s]; e != nil {
			out = append(out, Entry{Slot: s, Ballot: e.ballot, Command: e.cmd, Committed: e.committed})
		}
	}
	return out
}

// install replaces the node's votes on slots from..end with the state a
// leader read from the previous configuration (§6.2 step 4), and drops its
// uncommitted votes beyond end: they were not chosen, or the state read
// would hold them. Committed slots are kept. The node must hold every slot
// below from committed (o.execute >= from).
//
// A slot committed here that the state lacks (or holds with another value)
// means the state was read for a ballot that can no longer be activated: a
// later ballot was active and committed it. (For a ballot that can still
// be activated, the state read holds every chosen value: §6.2 (ii).) Then
// install changes nothing and returns false, and the ballot is given up.
func (o *object) install(from, end int64, es []Entry) bool {
	if from > o.execute {
		panic(fmt.Sprintf("vpaxos: object %q: install from slot %d, but only %d slots are applied", o.key, from, o.execute))
	}
	tail := make([]*entry, max(end+1-from, 0))
	for _, e := range es {
		if e.Slot < from || e.Slot > end {
			panic(fmt.Sprintf("vpaxos: object %q: installed entry %v outside %d..%d", o.key, e, from, end))
		}
		tail[e.Slot-from] = &entry{ballot: e.Ballot, cmd: e.Command, committed: e.Committed}
	}
	for s := from; s < int64(len(o.log)); s++ {
		le := o.log[s]
		if le == nil || !le.committed {
			continue
		}
		if s > end {
			return false
		}
		if te := tail[s-from]; te != nil && !sameCommand(te.cmd, le.cmd) {
			return false
		}
		tail[s-from] = le
	}
	o.log = append(o.log[:from], tail...)
	for i, e := range tail {
		if e != nil && e.cmd.Op != paxi.Noop {
			o.index[cmdKey{e.cmd.ClientID, e.cmd.CommandID}] = from + int64(i)
		}
	}
	return true
}

// exec applies the object's committed slots in order and answers the
// clients this node took the commands from.
func (r *VPaxos) exec(o *object) {
	for {
		e := o.at(o.execute)
		if e == nil || !e.committed {
			break
		}
		if e.cmd.Op != paxi.Noop {
			res := r.env.Store().Apply(e.cmd)
			k := reqKey{o.key, e.cmd.ClientID, e.cmd.CommandID}
			if w := r.waiting[k]; w != nil {
				for _, req := range w.reqs {
					r.env.Reply(req, paxi.NewReply(req, res, o.execute, e.ballot))
				}
				delete(r.waiting, k)
			}
		}
		o.execute++
	}
	if l := o.lead; l != nil && l.phase == active {
		l.commit = o.execute
	}
}

// fence is called when the node promises ballot b for an object: a
// leadership of a lower ballot is over (§6.2 step 2: this is what fences an
// old primary).
func (r *VPaxos) fence(o *object, b paxi.Ballot) {
	if l := o.lead; l != nil && l.ballot != 0 && l.ballot < b {
		r.abandon(o, b)
	}
}

// promise raises the node's promise for an object to b.
func (r *VPaxos) promise(o *object, b paxi.Ballot) {
	if b > o.maxBal {
		o.maxBal = b
		r.fence(o, b)
	}
	r.learnBallot(o, b)
}

// handleP1a is an acceptor of the previous configuration: promise the new
// ballot (no P2a of a lower ballot is accepted from now on) and report the
// votes.
func (r *VPaxos) handleP1a(from paxi.ID, m P1a) {
	o := r.obj(m.Key)
	r.promise(o, m.Ballot)
	reply := P1b{Key: m.Key, Ballot: o.maxBal}
	if m.Ballot == o.maxBal {
		reply.Entries = o.entries(m.From, int64(len(o.log))-1)
	}
	r.env.Send(from, reply)
}

// handleTransfer is a member of a new configuration installing the state
// its leader read from the previous one.
func (r *VPaxos) handleTransfer(from paxi.ID, m Transfer) {
	o := r.obj(m.Key)
	if m.Ballot < o.maxBal {
		r.env.Send(from, TransferAck{Key: m.Key, Ballot: o.maxBal, Need: -1})
		return
	}
	if m.From < 0 || m.End < m.From-1 || !o.valid(m.End+1) {
		r.env.Logger().Warn("Transfer with slots out of range ignored", "from", from, "msg", m)
		return
	}
	r.promise(o, m.Ballot)
	switch {
	case o.installed == m.Ballot:
		// A retransmission: installing again could drop votes accepted
		// in this ballot since.
	case o.execute < m.From:
		r.env.Send(from, TransferAck{Key: m.Key, Ballot: m.Ballot, Need: o.execute})
		return
	case !o.install(m.From, m.End, m.Entries):
		// The transfer is of a ballot that can no longer be activated (see
		// install): tell its leader about the newer ballot this node knows.
		if nack := max(o.view, o.maxBal); nack > m.Ballot {
			r.env.Send(from, TransferAck{Key: m.Key, Ballot: nack, Need: -1})
		}
		return
	default:
		o.installed = m.Ballot
		r.exec(o)
	}
	r.env.Send(from, TransferAck{Key: m.Key, Ballot: m.Ballot, Need: -1})
}

// handleP2a is a member of the active configuration accepting a command.
func (r *VPaxos) handleP2a(from paxi.ID, m P2a) {
	o := r.obj(m.Key)
	if !o.valid(m.Slot) {
		r.env.Logger().Warn("P2a with slot out of range ignored", "from", from, "slot", m.Slot)
		return
	}
	if m.Ballot < o.maxBal {
		r.env.Send(from, P2b{Key: m.Key, Ballot: o.maxBal, Slot: m.Slot})
		return
	}
	r.promise(o, m.Ballot)
	if e := o.at(m.Slot); e == nil || !e.committed {
		o.set(m.Slot, &entry{ballot: m.Ballot, cmd: m.Command})
	}
	r.env.Send(from, P2b{Key: m.Key, Ballot: m.Ballot, Slot: m.Slot})
}

// handleP3 is any node learning a committed slot.
func (r *VPaxos) handleP3(from paxi.ID, m P3) {
	o := r.obj(m.Key)
	if !o.valid(m.Slot) {
		r.env.Logger().Warn("P3 with slot out of range ignored", "from", from, "slot", m.Slot)
		return
	}
	r.learnBallot(o, m.Ballot)
	if l := o.lead; l != nil && l.phase == active && m.Ballot > l.ballot {
		r.abandon(o, m.Ballot) // a newer ballot is active: this one is over
	}
	r.learn(o, m.Slot, m.Ballot, m.Command, from)
	r.exec(o)
}

// learn records that slot s committed with cmd in ballot b.
func (r *VPaxos) learn(o *object, s int64, b paxi.Ballot, cmd paxi.Command, from paxi.ID) {
	e := o.at(s)
	if e != nil && (e.committed || e.ballot >= b) && !sameCommand(e.cmd, cmd) {
		// Committed values are final, and a vote in a later ballot carries
		// the value chosen earlier: either way two values were chosen.
		panic(fmt.Sprintf("vpaxos %v: object %q slot %d holds %v at %v (committed=%t), but %v reports %v committed at %v",
			r.id, o.key, s, e.cmd, e.ballot, e.committed, from, cmd, b))
	}
	if e != nil && e.committed {
		return
	}
	if e != nil && e.ballot >= b {
		e.committed = true
		return
	}
	o.set(s, &entry{ballot: b, cmd: cmd, committed: true})
}

// handleBeat is any node hearing which objects a primary leads and how far
// their logs are committed.
func (r *VPaxos) handleBeat(from paxi.ID, m Beat) {
	for _, be := range m.Entries {
		if be.Ballot.ID() != from {
			continue
		}
		o := r.obj(be.Key)
		r.learnBallot(o, be.Ballot)
		if l := o.lead; l != nil && l.phase == active && be.Ballot > l.ballot {
			r.abandon(o, be.Ballot)
		}
		if be.Commit <= o.execute || !o.valid(be.Commit) {
			continue
		}
		// Every slot below Commit is committed at the primary, and a slot
		// voted at the primary's ballot holds the primary's value.
		missing := int64(-1)
		for s := o.execute; s < be.Commit; s++ {
			e := o.at(s)
			switch {
			case e != nil && e.committed:
			case e != nil && e.ballot == be.Ballot:
				e.committed = true
			case missing < 0:
				missing = s
			}
		}
		if missing >= 0 {
			r.env.Send(from, CatchUp{Key: be.Key, From: missing, To: be.Commit - 1})
		}
		r.exec(o)
	}
}

// maxCatchUp bounds the slots sent for one CatchUp.
const maxCatchUp = 1024

func (r *VPaxos) handleCatchUp(from paxi.ID, m CatchUp) {
	o := r.objects[m.Key]
	if o == nil {
		return
	}
	sent := 0
	for s := max(m.From, 0); s <= m.To && sent < maxCatchUp; s++ {
		if e := o.at(s); e != nil && e.committed {
			r.env.Send(from, P3{Key: m.Key, Ballot: e.ballot, Slot: s, Command: e.cmd})
			sent++
		}
	}
}
