package epaxos

import (
	"fmt"
	"slices"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/quorum"
)

// maxGap bounds how far beyond the end of a row a message may name an
// instance: a corrupt or hostile instance number must not make a replica
// allocate gigabytes.
const maxGap = 1 << 20

// instance is one replica's state of one instance. The fields down to
// execOrder are what an acceptor must keep on stable storage (Durable hands
// them over); the rest is volatile bookkeeping.
//
// Slices held here (cmds, deps) are never modified in place: they are
// shared with messages, which the simulator does not copy.
type instance struct {
	row    int   // index of the owning replica in the sorted peers
	num    int64 // instance number within the row
	status Status
	cmds   []paxi.Command
	seq    uint64
	deps   []int64
	// bal is the highest ballot promised for the instance, vbal the ballot
	// at which status, cmds, seq and deps were set (PROTOCOLS.md §3.7 F1).
	bal, vbal paxi.Ballot
	// original: pre-accepted at the initial ballot with exactly the
	// command leader's attributes (a possible fast-path vote).
	original  bool
	executed  bool
	execOrder uint64 // 1 + how many instances this replica executed before it

	lead     *lead          // set while this replica drives the instance
	seen     paxi.Ballot    // highest ballot heard of in a Nack
	since    time.Time      // last progress seen; recovery starts a timeout after it
	jitter   time.Duration  // random part of that timeout
	needed   bool           // the executor waits for this instance
	tracked  bool           // in EPaxos.uncommitted
	proposal []paxi.Command // own instance: the client commands proposed in it
	counted  bool           // own instance: counts in EPaxos.inflight
	keys     map[string]bool

	// Tarjan bookkeeping of the executor, valid when tPass is the current pass.
	tPass, tBlocked uint64
	tIndex, tLow    int
	tOnStack        bool
}

// phase is what a leading replica waits for.
type phase uint8

const (
	phasePrepare phase = iota + 1
	phasePreAccept
	phaseAccept
)

func (p phase) String() string {
	switch p {
	case phasePrepare:
		return "prepare"
	case phasePreAccept:
		return "preaccept"
	case phaseAccept:
		return "accept"
	}
	return "phase(?)"
}

// lead is the state of a replica driving an instance at ballot: the command
// leader at the initial ballot, or a recoverer at a higher one.
type lead struct {
	ballot  paxi.Ballot
	phase   phase
	votes   quorum.Tracker // majority: replicas that answered this phase
	same    quorum.Tracker // fast quorum: PreAcceptOKs equal to orig (initial ballot only)
	orig    attrs          // attributes sent in the PreAccept
	merged  attrs          // union of orig and every PreAcceptOK
	replies []PrepareOK    // phase prepare: in arrival order, own state first
	sent    time.Time      // last (re)transmission of this phase's message
	started time.Time      // when this phase began
	armed   bool           // fastTimeout set
}

// attrs are an instance's ordering attributes.
type attrs struct {
	seq  uint64
	deps []int64
}

func (a attrs) equal(b attrs) bool { return a.seq == b.seq && slices.Equal(a.deps, b.deps) }

// union returns the attributes that order after both a and b: the larger
// seq and the element-wise larger deps. It allocates a new deps slice.
func (a attrs) union(b attrs) attrs {
	d := slices.Clone(a.deps)
	for i := range d {
		d[i] = max(d[i], b.deps[i])
	}
	return attrs{seq: max(a.seq, b.seq), deps: d}
}

func (i *instance) id(peers []paxi.ID) InstanceID { return InstanceID{peers[i.row], i.num} }

func (i *instance) attrs() attrs { return attrs{i.seq, i.deps} }

func isNoop(cmds []paxi.Command) bool { return len(cmds) == 1 && cmds[0].Op == paxi.Noop }

// index returns id's position in the sorted peers.
func (e *EPaxos) index(id paxi.ID) (int, bool) { return slices.BinarySearch(e.peers, id) }

// at returns instance num of row r, or nil.
func (e *EPaxos) at(r int, num int64) *instance {
	row := e.rows[r]
	if num < 0 || num >= int64(len(row)) {
		return nil
	}
	return row[num]
}

// validNum reports whether an instance number from a message is plausible
// for row r: not negative, and not absurdly far beyond the row's end.
func (e *EPaxos) validNum(r int, num int64) bool {
	return num >= 0 && num-int64(len(e.rows[r])) <= maxGap
}

// get returns instance num of row r, creating an empty one if needed. The
// number must have passed validNum.
func (e *EPaxos) get(r int, num int64) *instance {
	if !e.validNum(r, num) {
		panic(fmt.Sprintf("epaxos %v: instance %v:%d out of range (row has %d)", e.id, e.peers[r], num, len(e.rows[r])))
	}
	row := e.rows[r]
	for int64(len(row)) <= num {
		row = append(row, nil)
	}
	e.rows[r] = row
	if row[num] == nil {
		row[num] = &instance{row: r, num: num}
	}
	return row[num]
}

// resolve checks the instance a message names: a sender in the cluster,
// a known row, a plausible number. It returns the row index, or false after
// logging: bad input is ignored, never trusted. Nothing is allocated.
func (e *EPaxos) resolve(what string, from paxi.ID, r paxi.ID, num int64) (int, bool) {
	if _, ok := e.index(from); !ok {
		e.env.Logger().Warn(what+" from a node not in the cluster ignored", "from", from)
		return 0, false
	}
	ri, ok := e.index(r)
	if !ok || !e.validNum(ri, num) {
		e.env.Logger().Warn(what+" for an instance out of range ignored", "from", from, "replica", r, "instance", num)
		return 0, false
	}
	return ri, true
}

// lookup resolves the instance a message names and returns it if this
// replica has it.
func (e *EPaxos) lookup(what string, from paxi.ID, r paxi.ID, num int64) *instance {
	ri, ok := e.resolve(what, from, r, num)
	if !ok {
		return nil
	}
	return e.at(ri, num)
}

// validCmds checks the commands a message carries: at least one, each a
// known operation, and a no-op only alone.
func validCmds(cmds []paxi.Command) bool {
	if len(cmds) == 0 {
		return false
	}
	for _, c := range cmds {
		switch c.Op {
		case paxi.Get, paxi.Put, paxi.Delete:
		case paxi.Noop:
			if len(cmds) != 1 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// validDeps checks the dependencies of instance num of row r that a message
// carries: one entry per replica, each in range, and the own-row entry equal
// to num-1 (every instance depends on its row's prefix; see doc.go).
func (e *EPaxos) validDeps(r int, num int64, deps []int64) bool {
	if len(deps) != e.n || deps[r] != num-1 {
		return false
	}
	for q, d := range deps {
		if d < -1 || d-int64(len(e.rows[q])) > maxGap {
			return false
		}
	}
	return true
}

// validValue checks the commands and attributes of a message about
// instance num of row r, logging what is wrong.
func (e *EPaxos) validValue(what string, from paxi.ID, r int, num int64, cmds []paxi.Command, deps []int64) bool {
	if !validCmds(cmds) || !e.validDeps(r, num, deps) {
		e.env.Logger().Warn(what+" with malformed commands or dependencies ignored", "from", from,
			"instance", InstanceID{e.peers[r], num}.String(), "deps", depsString(deps), "cmds", len(cmds))
		return false
	}
	return true
}

// validBallot checks that a ballot in a message from `from` about an
// instance of row r could have been sent by it: it is the sender's, and
// round 0 (the initial ballot) belongs to the command leader only.
func (e *EPaxos) validBallot(what string, from paxi.ID, r int, b paxi.Ballot) bool {
	if b.ID() != from || (b.Round() == 0 && from != e.peers[r]) {
		e.env.Logger().Warn(what+" with a ballot its sender cannot own ignored", "from", from, "ballot", b)
		return false
	}
	return true
}

// initial returns the initial ballot of row r's instances: round 0 of the
// command leader.
func (e *EPaxos) initial(r int) paxi.Ballot { return paxi.NewBallot(0, e.peers[r]) }

// localAttrs computes the attributes of cmds in instance num of row r from
// this replica's conflict tables: seq one above every conflicting command's
// seq, and for each other row the highest conflicting instance. The own row
// entry is always num-1.
func (e *EPaxos) localAttrs(r int, num int64, cmds []paxi.Command) attrs {
	deps := make([]int64, e.n)
	for q := range deps {
		deps[q] = -1
	}
	var seq uint64
	for _, c := range cmds {
		if c.Op == paxi.Noop {
			continue
		}
		// A write conflicts with every command on its key, a read only with
		// writes.
		tab, seqs := e.lastWrite, e.seqWrite
		if c.Op.IsWrite() {
			tab, seqs = e.lastAny, e.seqAny
		}
		for q := range deps {
			if j, ok := tab[q][c.Key]; ok && j > deps[q] {
				deps[q] = j
			}
		}
		if s, ok := seqs[c.Key]; ok && s+1 > seq {
			seq = s + 1
		}
	}
	deps[r] = num - 1
	return attrs{seq: max(seq, 1), deps: deps}
}

// noopAttrs are the attributes of a no-op in instance num of row r.
func (e *EPaxos) noopAttrs(r int, num int64) attrs {
	deps := make([]int64, e.n)
	for q := range deps {
		deps[q] = -1
	}
	deps[r] = num - 1
	return attrs{deps: deps}
}

// learn records inst's commands and attributes in the conflict tables, so
// that later commands on the same keys depend on it (PROTOCOLS.md §3.8: on
// pre-accept, accept and commit alike).
func (e *EPaxos) learn(inst *instance) {
	for _, c := range inst.cmds {
		if c.Op == paxi.Noop {
			continue
		}
		if j, ok := e.lastAny[inst.row][c.Key]; !ok || inst.num > j {
			e.lastAny[inst.row][c.Key] = inst.num
		}
		e.seqAny[c.Key] = max(e.seqAny[c.Key], inst.seq)
		if c.Op.IsWrite() {
			if j, ok := e.lastWrite[inst.row][c.Key]; !ok || inst.num > j {
				e.lastWrite[inst.row][c.Key] = inst.num
			}
			e.seqWrite[c.Key] = max(e.seqWrite[c.Key], inst.seq)
		}
	}
}

// keySet returns, for a committed instance, its keys and whether each is
// written. It is cached: committed commands never change.
func (i *instance) keySet() map[string]bool {
	if i.keys == nil {
		i.keys = make(map[string]bool, len(i.cmds))
		for _, c := range i.cmds {
			if c.Op != paxi.Noop {
				i.keys[c.Key] = i.keys[c.Key] || c.Op.IsWrite()
			}
		}
	}
	return i.keys
}

// conflicts reports whether two instances' commands conflict: some command
// of one and some of the other have the same key, and one of them writes.
func conflicts(a, b *instance) bool {
	if len(a.cmds) > len(b.cmds) {
		a, b = b, a
	}
	if len(b.cmds) <= 4 {
		for _, x := range a.cmds {
			for _, y := range b.cmds {
				if x.Op != paxi.Noop && y.Op != paxi.Noop && x.Key == y.Key && (x.Op.IsWrite() || y.Op.IsWrite()) {
					return true
				}
			}
		}
		return false
	}
	ks := b.keySet()
	for _, x := range a.cmds {
		if x.Op == paxi.Noop {
			continue
		}
		if w, ok := ks[x.Key]; ok && (w || x.Op.IsWrite()) {
			return true
		}
	}
	return false
}

// sameCmds reports whether two command lists are the same client commands.
func sameCmds(a, b []paxi.Command) bool {
	return slices.EqualFunc(a, b, func(x, y paxi.Command) bool {
		return x.Op == y.Op && x.Key == y.Key && string(x.Value) == string(y.Value) &&
			x.ClientID == y.ClientID && x.CommandID == y.CommandID
	})
}
