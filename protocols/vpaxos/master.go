package vpaxos

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/paxos"
	"github.com/ailidani/paxi-style/store"
)

// The configuration master is the paxos package's Multi-Paxos, unchanged,
// running on the master members inside masterEnv: an Env decorator that
// shrinks the world to the master group, gives it a store of its own, wraps
// its client requests (MasterRequest) and timers (masterTimer) so they never
// mix with the object protocol's, and catches its replies.
//
// The master's state machine is that private store. Every MasterOp becomes
// one command on the object's key: NewBallot and Complete are puts of the
// encoded op, Query is a get. The master's record of an object is the fold
// of the key's history (record.apply), so compare-and-set operations need
// nothing from the store but its ordered history, and every member derives
// the same record from the same log.

// masterEnv is the Env of the master's Multi-Paxos replica.
type masterEnv struct {
	paxi.Env
	members []paxi.ID
	store   *store.Store
	log     *slog.Logger
	replies []paxi.Reply // caught during the inner replica's Step
}

func (e *masterEnv) Peers() []paxi.ID     { return e.members }
func (e *masterEnv) Store() *store.Store  { return e.store }
func (e *masterEnv) Logger() *slog.Logger { return e.log }

func (e *masterEnv) Send(to paxi.ID, m paxi.Message) {
	if r, ok := m.(paxi.Request); ok {
		m = MasterRequest{Request: r}
	}
	e.Env.Send(to, m)
}

func (e *masterEnv) Broadcast(m paxi.Message) {
	for _, id := range e.members {
		if id != e.ID() {
			e.Send(id, m)
		}
	}
}

func (e *masterEnv) Multicast(to []paxi.ID, m paxi.Message) {
	for _, id := range to {
		e.Send(id, m)
	}
}

func (e *masterEnv) MulticastZone(z int, m paxi.Message) {
	for _, id := range e.members {
		if id != e.ID() && id.Zone() == z {
			e.Send(id, m)
		}
	}
}

func (e *masterEnv) Reply(_ paxi.Request, rep paxi.Reply) { e.replies = append(e.replies, rep) }

func (e *masterEnv) After(d time.Duration, m paxi.Message) paxi.TimerID {
	return e.Env.After(d, masterTimer{m})
}

// masterMembers picks the master group: up to size nodes, taken round-robin
// over the zones (the first node of each zone, then the second, ...), so
// that the master survives the loss of a zone when there are enough zones.
func masterMembers(cfg *paxi.Config, size int) []paxi.ID {
	var byZone [][]paxi.ID
	for _, z := range cfg.Zones() {
		byZone = append(byZone, cfg.ZoneNodes(z))
	}
	var out []paxi.ID
	for i := 0; len(out) < size; i++ {
		added := false
		for _, ids := range byZone {
			if i < len(ids) && len(out) < size {
				out = append(out, ids[i])
				added = true
			}
		}
		if !added {
			break
		}
	}
	return paxi.SortIDs(out)
}

// record is the master's state for one object.
type record struct {
	Issued       paxi.Ballot
	IssuedConfig Configuration
	Active       paxi.Ballot
	ActiveConfig Configuration
}

// apply folds one op into the record: the master's state machine.
func (r *record) apply(op MasterOp) {
	switch op.Kind {
	case OpNewBallot:
		if r.Issued == op.Ballot {
			r.Issued = op.Ballot.Next(op.Leader)
			r.IssuedConfig = op.Config
		}
	case OpComplete:
		// Only the last ballot issued may be activated (§6.2 step 5): a
		// ballot superseded before completing is abandoned, and since no
		// value can be chosen in a ballot before its activation, nothing
		// is lost with it.
		if r.Issued == op.Ballot && r.Active != op.Ballot {
			r.Active = op.Ballot
			r.ActiveConfig = r.IssuedConfig
		}
	}
}

// encodeOp writes a NewBallot or Complete op as a put's value: kind, ballot,
// leader, then the configuration's members, fixed-width.
func encodeOp(op MasterOp) []byte {
	b := make([]byte, 0, 13+4*len(op.Config))
	b = append(b, op.Kind)
	b = binary.BigEndian.AppendUint64(b, uint64(op.Ballot))
	b = binary.BigEndian.AppendUint32(b, uint32(op.Leader))
	for _, id := range op.Config {
		b = binary.BigEndian.AppendUint32(b, uint32(id))
	}
	return b
}

// decodeOp reads a value written by encodeOp. The master's own log holds
// only values this package wrote, so a malformed one is a broken invariant.
func decodeOp(b []byte) MasterOp {
	if len(b) < 13 || (len(b)-13)%4 != 0 {
		panic(fmt.Sprintf("vpaxos: master log holds a malformed op of %d bytes", len(b)))
	}
	op := MasterOp{
		Kind:   b[0],
		Ballot: paxi.Ballot(binary.BigEndian.Uint64(b[1:])),
		Leader: paxi.ID(binary.BigEndian.Uint32(b[9:])),
	}
	for i := 13; i < len(b); i += 4 {
		op.Config = append(op.Config, paxi.ID(binary.BigEndian.Uint32(b[i:])))
	}
	return op
}

// command turns an op into the master's command for it.
func (op MasterOp) command(origin paxi.ID) paxi.Command {
	c := paxi.Command{Op: paxi.Put, Key: op.Key, Value: encodeOp(op), ClientID: "vpaxos@" + origin.String(), CommandID: op.ID}
	if op.Kind == OpQuery {
		c.Op, c.Value = paxi.Get, nil
	}
	return c
}

// master is a master member's part of the replica: the inner Multi-Paxos,
// its Env, and the ops submitted to it that are waiting for their reply.
type master struct {
	env     *masterEnv
	inner   *paxos.Paxos
	handle  uint64
	waiting map[uint64]masterWaiter // inner request handle -> who asked
	cache   map[string]cachedRecord
}

// masterWaiter is who asked for an op a member submitted: a node and its op.
type masterWaiter struct {
	origin paxi.ID
	op     uint64
	key    string
}

// cachedRecord is an object's record folded up to a version of its key.
type cachedRecord struct {
	version uint64
	rec     record
}

func newMaster(env paxi.Env, members []paxi.ID, st *store.Store) (*master, error) {
	if st == nil {
		st = store.New()
	}
	me := &masterEnv{Env: env, members: members, store: st, log: env.Logger().With("role", "master")}
	inner, err := paxos.NewWithOptions(me, paxos.Options{})
	if err != nil {
		return nil, fmt.Errorf("vpaxos: master: %w", err)
	}
	return &master{env: me, inner: inner, waiting: map[uint64]masterWaiter{}, cache: map[string]cachedRecord{}}, nil
}

// recordAt folds the history of key up to version v.
func (m *master) recordAt(key string, v uint64) record {
	c, ok := m.cache[key]
	if ok && c.version == v {
		return c.rec
	}
	h := m.env.store.History(key)
	if uint64(len(h)) < v {
		panic(fmt.Sprintf("vpaxos: master reply at version %d of %q, but its history has %d versions", v, key, len(h)))
	}
	var rec record
	start := uint64(0)
	if ok && c.version < v {
		rec, start = c.rec, c.version
	}
	for _, ver := range h[start:v] {
		rec.apply(decodeOp(ver.Value))
	}
	if !ok || v > c.version {
		m.cache[key] = cachedRecord{version: v, rec: rec}
	}
	return rec
}

// submit hands an op to the inner Multi-Paxos on behalf of origin and
// returns the replies that came out of the step.
func (m *master) submit(origin paxi.ID, op MasterOp) []routedReply {
	m.handle++
	m.waiting[m.handle] = masterWaiter{origin: origin, op: op.ID, key: op.Key}
	req := paxi.Request{Command: op.command(origin), Node: m.env.ID(), Handle: m.handle}
	return m.step(m.env.ID(), req)
}

// step runs the inner replica on one message and turns the replies it
// produced into MasterReplies, each with the node that asked.
func (m *master) step(from paxi.ID, msg paxi.Message) []routedReply {
	if err := m.inner.Step(from, msg); err != nil {
		panic(fmt.Sprintf("vpaxos %v: master: %v", m.env.ID(), err))
	}
	if len(m.env.replies) == 0 {
		return nil
	}
	var out []routedReply
	for _, rep := range m.env.replies {
		w, ok := m.waiting[rep.Handle]
		if !ok {
			continue
		}
		delete(m.waiting, rep.Handle)
		// The reply's version is the key's version right after the op (a
		// duplicate carries the original's), so the record folded up to
		// it is the master's state just after this op.
		rec := m.recordAt(w.key, rep.Result.Version)
		out = append(out, routedReply{to: w.origin, rep: MasterReply{
			ID: w.op, Key: w.key,
			Issued: rec.Issued, IssuedConfig: rec.IssuedConfig,
			Active: rec.Active, ActiveConfig: rec.ActiveConfig,
		}})
	}
	m.env.replies = m.env.replies[:0]
	return out
}

// routedReply is a MasterReply and the node that asked for it.
type routedReply struct {
	to  paxi.ID
	rep MasterReply
}

// sortMembers orders the master members by distance from id: its own zone
// first, then by the WAN round trip if one is configured, then by ID.
func sortMembers(members []paxi.ID, id paxi.ID, wan [][]time.Duration) []paxi.ID {
	out := slices.Clone(members)
	slices.SortStableFunc(out, func(a, b paxi.ID) int {
		return cmp.Or(
			cmp.Compare(distance(id, a, wan), distance(id, b, wan)),
			cmp.Compare(a, b),
		)
	})
	return out
}

// distance ranks how far node b is from node a: 0 for itself, then its
// zone, then the WAN round trip (or the zone number difference without WAN).
func distance(a, b paxi.ID, wan [][]time.Duration) int64 {
	if a == b {
		return 0
	}
	if a.Zone() == b.Zone() {
		return 1
	}
	za, zb := a.Zone()-1, b.Zone()-1
	if za < len(wan) && zb < len(wan[za]) {
		return 2 + int64(wan[za][zb])
	}
	d := za - zb
	if d < 0 {
		d = -d
	}
	return 2 + int64(d)
}
