package wankeeper

import (
	"fmt"
	"slices"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/quorum"
)

// entry is one slot of a zone log.
type entry struct {
	ballot    paxi.Ballot // ballot the records were accepted (or proposed) at
	recs      []Record
	committed bool
	acks      quorum.Tracker // zone leader only: phase-2 acceptors at ballot
	sent      time.Time      // zone leader only: when the Proposal was last sent
}

// maxSlotGap bounds how far beyond a log's end a message may name a slot, so
// that a corrupt slot number cannot make a replica allocate gigabytes.
const maxSlotGap = 1 << 20

// zoneLog is one zone's log as a node knows it. A node is an acceptor of its
// own zone's log and a learner of every other zone's.
type zoneLog struct {
	zone    int
	entries []*entry
	slot    int64       // highest slot known (-1: none)
	execute int64       // next slot to apply; every slot below is applied
	leader  paxi.Ballot // foreign zones: highest ballot heard from the zone's leader
}

func newZoneLog(z int) *zoneLog { return &zoneLog{zone: z, slot: -1} }

func (l *zoneLog) at(s int64) *entry {
	if s < 0 || s >= int64(len(l.entries)) {
		return nil
	}
	return l.entries[s]
}

func (l *zoneLog) set(s int64, e *entry) {
	if !l.valid(s) || s < 0 {
		panic(fmt.Sprintf("wankeeper: zone %d log: slot %d out of range (log has %d slots)", l.zone, s, len(l.entries)))
	}
	for int64(len(l.entries)) <= s {
		l.entries = append(l.entries, nil)
	}
	l.entries[s] = e
	l.slot = max(l.slot, s)
}

// valid reports whether a slot number from a message is plausible.
func (l *zoneLog) valid(s int64) bool {
	return s >= -1 && s-int64(len(l.entries)) <= maxSlotGap
}

// learn marks slot s committed with recs. It panics if the slot was
// committed with other records: agreement inside the zone is broken.
func (l *zoneLog) learn(s int64, b paxi.Ballot, recs []Record) {
	e := l.at(s)
	if e == nil {
		l.set(s, &entry{ballot: b, recs: recs, committed: true})
		return
	}
	if e.committed {
		if !sameRecords(e.recs, recs) {
			panic(fmt.Sprintf("wankeeper: zone %d slot %d committed as %s and as %s", l.zone, s, recordsString(e.recs), recordsString(recs)))
		}
		return
	}
	e.ballot, e.recs, e.committed = b, recs, true
}

func sameRecords(a, b []Record) bool {
	return slices.EqualFunc(a, b, func(x, y Record) bool {
		return x.Kind == y.Kind && x.Key == y.Key && x.Zone == y.Zone && x.Epoch == y.Epoch && x.Last == y.Last &&
			x.Command.Op == y.Command.Op && x.Command.Same(y.Command)
	})
}

// token is the master log's view of one key's token.
type token struct {
	holder int    // zone holding it
	epoch  uint64 // incremented at every change of holder
	next   int64  // while the master holds it: the next key slot
	last   int64  // while another zone holds it: the last key slot before its tenure
	// The grant policy: the zone of the last commands the master executed
	// on the key, and how many in a row came from it.
	streakZone int
	streak     int
}

// tenure is a non-master zone's hold of a token, from its log.
type tenure struct {
	epoch uint64
	next  int64 // next key slot
}

// release is a zone's last TokenOut of a key.
type release struct {
	epoch uint64
	last  int64 // last key slot the zone used
}

// keyState applies one key's commands in key-slot order. The commands of a
// key come from several zone logs (one per tenure of its token); each
// carries its key slot, and a command is applied once every earlier one is.
type keyState struct {
	next  int64                  // next key slot to apply
	facts map[int64]paxi.Command // learned, waiting for an earlier slot
}

// knowledge is what a node keeps on stable storage: its promise in its
// zone, every zone log as far as it knows it, and everything derived from
// applying those logs (who holds which token, how far every key is
// applied). The store is durable too and matches keys. It is also exactly
// the state every node computes alike from the same log prefixes, apart from
// the own zone's promise and uncommitted accepted slots.
type knowledge struct {
	ballot paxi.Ballot // promised ballot in the own zone
	logs   map[int]*zoneLog

	table    map[string]*token          // master log: every token's holder
	holds    map[int]map[string]*tenure // non-master zone logs: tokens held
	seen     map[int]map[string]uint64  // highest TokenIn epoch per zone and key
	released map[int]map[string]release // last TokenOut per zone and key
	keys     map[string]*keyState       // per-key application

	// Derived work lists, for the master zone's leader: keys granted to a
	// zone whose log does not show the TokenIn yet, and keys whose holder's
	// log shows a TokenOut the master log may not have answered with a
	// Return yet.
	granting   map[string]bool
	returnable map[string]int // key -> zone that released it
}

func newKnowledge(zones []int) *knowledge {
	k := &knowledge{
		logs:       map[int]*zoneLog{},
		table:      map[string]*token{},
		holds:      map[int]map[string]*tenure{},
		seen:       map[int]map[string]uint64{},
		released:   map[int]map[string]release{},
		keys:       map[string]*keyState{},
		granting:   map[string]bool{},
		returnable: map[string]int{},
	}
	for _, z := range zones {
		k.logs[z] = newZoneLog(z)
		k.holds[z] = map[string]*tenure{}
		k.seen[z] = map[string]uint64{}
		k.released[z] = map[string]release{}
	}
	return k
}

// tokenOf returns the master log's entry for key, creating it: a key nobody
// asked for yet is held by the master zone from key slot 0.
func (k *knowledge) tokenOf(key string, master int) *token {
	t := k.table[key]
	if t == nil {
		t = &token{holder: master, last: -1}
		k.table[key] = t
	}
	return t
}
