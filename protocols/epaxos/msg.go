package epaxos

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ailidani/paxi-style/paxi"
)

// InstanceID names an instance of the two-dimensional instance space: row
// Replica (the command leader that owns it), column Instance (from 0).
type InstanceID struct {
	Replica  paxi.ID `msgpack:"r"`
	Instance int64   `msgpack:"i"`
}

// String prints the instance as "replica:instance", e.g. "1.2:7".
func (id InstanceID) String() string {
	return id.Replica.String() + ":" + strconv.FormatInt(id.Instance, 10)
}

// Status is how far an instance has got at one replica. Executed is not a
// status of its own: it is local to a replica and never reported.
type Status uint8

// The statuses of an instance, in the order they can only move forward at one
// ballot.
const (
	// None: the replica knows nothing of the instance's command (it may have
	// promised a ballot for it).
	None Status = iota
	// PreAccepted: the replica pre-accepted the command with attributes
	// (seq, deps) at the instance's vbal.
	PreAccepted
	// Accepted: the replica accepted (seq, deps) at vbal (Paxos phase 2).
	Accepted
	// Committed: the attributes are decided.
	Committed
)

// String returns the status's name.
func (s Status) String() string {
	switch s {
	case None:
		return "none"
	case PreAccepted:
		return "preaccepted"
	case Accepted:
		return "accepted"
	case Committed:
		return "committed"
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// PreAccept is phase 1: the command leader (or a recoverer restarting phase
// 1 at a higher ballot) proposes Cmds in instance (Replica, Instance) with
// the attributes it computed, Seq and Deps. Deps[q] is the highest instance
// of row q (in peer order) the command depends on: it depends on every
// instance q.0 .. q.Deps[q] (a prefix), -1 for none.
type PreAccept struct {
	Ballot   paxi.Ballot    `msgpack:"b"`
	Replica  paxi.ID        `msgpack:"r"`
	Instance int64          `msgpack:"i"`
	Cmds     []paxi.Command `msgpack:"c"`
	Seq      uint64         `msgpack:"s"`
	Deps     []int64        `msgpack:"d"`
}

func (m PreAccept) String() string {
	return fmt.Sprintf("PreAccept{b=%v %v seq=%d deps=%v %s}", m.Ballot, inst(m.Replica, m.Instance), m.Seq, depsString(m.Deps), paxi.CommandsString(m.Cmds))
}

// PreAcceptOK answers a PreAccept the replica took: the attributes it
// pre-accepted, which are the PreAccept's merged with the conflicting
// instances it knows.
type PreAcceptOK struct {
	Ballot   paxi.Ballot `msgpack:"b"`
	Replica  paxi.ID     `msgpack:"r"`
	Instance int64       `msgpack:"i"`
	Seq      uint64      `msgpack:"s"`
	Deps     []int64     `msgpack:"d"`
}

func (m PreAcceptOK) String() string {
	return fmt.Sprintf("PreAcceptOK{b=%v %v seq=%d deps=%v}", m.Ballot, inst(m.Replica, m.Instance), m.Seq, depsString(m.Deps))
}

// Accept is the Paxos-Accept phase (the slow path, and recovery): accept
// Cmds with exactly these attributes at Ballot.
type Accept struct {
	Ballot   paxi.Ballot    `msgpack:"b"`
	Replica  paxi.ID        `msgpack:"r"`
	Instance int64          `msgpack:"i"`
	Cmds     []paxi.Command `msgpack:"c"`
	Seq      uint64         `msgpack:"s"`
	Deps     []int64        `msgpack:"d"`
}

func (m Accept) String() string {
	return fmt.Sprintf("Accept{b=%v %v seq=%d deps=%v %s}", m.Ballot, inst(m.Replica, m.Instance), m.Seq, depsString(m.Deps), paxi.CommandsString(m.Cmds))
}

// AcceptOK answers an Accept the replica took.
type AcceptOK struct {
	Ballot   paxi.Ballot `msgpack:"b"`
	Replica  paxi.ID     `msgpack:"r"`
	Instance int64       `msgpack:"i"`
}

func (m AcceptOK) String() string {
	return fmt.Sprintf("AcceptOK{b=%v %v}", m.Ballot, inst(m.Replica, m.Instance))
}

// Commit announces the decided command and attributes of an instance. It
// always carries the commands, so that any replica can execute it.
type Commit struct {
	Replica  paxi.ID        `msgpack:"r"`
	Instance int64          `msgpack:"i"`
	Cmds     []paxi.Command `msgpack:"c"`
	Seq      uint64         `msgpack:"s"`
	Deps     []int64        `msgpack:"d"`
}

func (m Commit) String() string {
	return fmt.Sprintf("Commit{%v seq=%d deps=%v %s}", inst(m.Replica, m.Instance), m.Seq, depsString(m.Deps), paxi.CommandsString(m.Cmds))
}

// Prepare is explicit recovery, Paxos phase 1 for one instance: the sender
// asks to take over the instance at Ballot.
type Prepare struct {
	Ballot   paxi.Ballot `msgpack:"b"`
	Replica  paxi.ID     `msgpack:"r"`
	Instance int64       `msgpack:"i"`
}

func (m Prepare) String() string {
	return fmt.Sprintf("Prepare{b=%v %v}", m.Ballot, inst(m.Replica, m.Instance))
}

// PrepareOK answers a Prepare: the replica promised Ballot and reports its
// state of the instance, with VBallot, the ballot at which that state was
// set (PROTOCOLS.md §3.7 F1: not the promise). Original is set when the state
// is a pre-accept at the initial ballot whose attributes are exactly the
// command leader's, i.e. a vote that may be part of a fast-path commit. A
// replica that has the instance committed answers with Status Committed
// whatever the ballot.
type PrepareOK struct {
	Ballot   paxi.Ballot    `msgpack:"b"`
	Replica  paxi.ID        `msgpack:"r"`
	Instance int64          `msgpack:"i"`
	Status   Status         `msgpack:"t"`
	VBallot  paxi.Ballot    `msgpack:"v"`
	Original bool           `msgpack:"o"`
	Cmds     []paxi.Command `msgpack:"c"`
	Seq      uint64         `msgpack:"s"`
	Deps     []int64        `msgpack:"d"`
}

func (m PrepareOK) String() string {
	o := ""
	if m.Original {
		o = " original"
	}
	return fmt.Sprintf("PrepareOK{b=%v %v %v vb=%v%s seq=%d deps=%v %s}", m.Ballot, inst(m.Replica, m.Instance), m.Status, m.VBallot, o, m.Seq, depsString(m.Deps), paxi.CommandsString(m.Cmds))
}

// Nack rejects a PreAccept, Accept or Prepare: the replica has promised the
// higher Ballot for the instance.
type Nack struct {
	Ballot   paxi.Ballot `msgpack:"b"`
	Replica  paxi.ID     `msgpack:"r"`
	Instance int64       `msgpack:"i"`
}

func (m Nack) String() string {
	return fmt.Sprintf("Nack{b=%v %v}", m.Ballot, inst(m.Replica, m.Instance))
}

// Heartbeat is sent by every replica every heartbeat interval. For each row
// q (in peer order) Committed[q] is the highest instance such that it and
// every instance below it are committed at the sender, and Max[q] the highest
// instance committed there. A replica that is behind asks for the commits it
// lacks (CatchUp). Not in the paper, which assumes Commit messages arrive.
type Heartbeat struct {
	Committed []int64 `msgpack:"c"`
	Max       []int64 `msgpack:"m"`
}

func (m Heartbeat) String() string {
	return fmt.Sprintf("Heartbeat{committed=%v max=%v}", depsString(m.Committed), depsString(m.Max))
}

// CatchUp asks for the committed instances From..To (inclusive) of row
// Replica. It is answered with Commit messages, at most maxCatchUp of them.
type CatchUp struct {
	Replica paxi.ID `msgpack:"r"`
	From    int64   `msgpack:"f"`
	To      int64   `msgpack:"t"`
}

func (m CatchUp) String() string {
	return fmt.Sprintf("CatchUp{%v %d..%d}", m.Replica, m.From, m.To)
}

// tick is the replica's periodic timer: heartbeats, retransmission, and
// recovery of instances that are stuck. Local, never sent.
type tick struct{}

func (tick) String() string { return "tick" }

// fastTimeout ends the wait for a fast quorum of identical PreAcceptOKs
// once a majority has answered: the leader takes the slow path. Local.
type fastTimeout struct {
	Replica  paxi.ID
	Instance int64
	Ballot   paxi.Ballot
}

func (m fastTimeout) String() string {
	return fmt.Sprintf("fastTimeout{b=%v %v}", m.Ballot, inst(m.Replica, m.Instance))
}

// Messages lists the message types EPaxos sends between nodes, in wire
// order.
var Messages = []paxi.Message{
	PreAccept{}, PreAcceptOK{}, Accept{}, AcceptOK{}, Commit{},
	Prepare{}, PrepareOK{}, Nack{}, Heartbeat{}, CatchUp{},
}

func inst(r paxi.ID, i int64) InstanceID { return InstanceID{Replica: r, Instance: i} }

func depsString(d []int64) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range d {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatInt(x, 10))
	}
	b.WriteByte(']')
	return b.String()
}
