package smr

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ailidani/paxi-style/paxi"
)

// Key is the key of every input command. Redis is one state machine, so its
// inputs must be totally ordered; with one key, even protocols that order
// only conflicting commands (EPaxos) order all of them.
const Key = "smr"

// Kind is what happened on a client connection.
type Kind byte

// The kinds of input.
const (
	// Open: a client connected; replicas open a connection to their server.
	Open Kind = 'o'
	// Data: bytes the client sent, as one read returned them.
	Data Kind = 'd'
	// Close: the client closed its side; replicas close theirs.
	Close Kind = 'c'
	// Restart: a proxy started; replicas close the connections of its
	// earlier incarnations, whose clients died with it.
	Restart Kind = 'r'
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case Open:
		return "open"
	case Data:
		return "data"
	case Close:
		return "close"
	case Restart:
		return "restart"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// streamPrefix starts every stream name: "smr/<node>/<incarnation>/<n>".
const streamPrefix = "smr/"

// Input is one event of one client connection (a stream), in the form the
// protocols order: a paxi.Command that writes Key. The stream name is the
// command's client id and the event's sequence number in its stream its
// command id, so the store's deduplication and the executor's both apply;
// the value is the kind followed by the bytes.
type Input struct {
	Stream string
	Seq    uint64
	Kind   Kind
	Bytes  []byte
}

// Command encodes the input.
func (in Input) Command() paxi.Command {
	v := make([]byte, 1+len(in.Bytes))
	v[0] = byte(in.Kind)
	copy(v[1:], in.Bytes)
	return paxi.Command{Op: paxi.Put, Key: Key, Value: v, ClientID: in.Stream, CommandID: in.Seq}
}

// errNotInput reports a command that is not an input of this package.
var errNotInput = errors.New("smr: not a proxy input")

// ParseInput decodes a command made by Input.Command. Bytes aliases the
// command's value.
func ParseInput(c paxi.Command) (Input, error) {
	if c.Op != paxi.Put || c.Key != Key || !strings.HasPrefix(c.ClientID, streamPrefix) {
		return Input{}, fmt.Errorf("%w: %v", errNotInput, c)
	}
	if len(c.Value) == 0 {
		return Input{}, fmt.Errorf("smr: input %v has no kind", c)
	}
	in := Input{Stream: c.ClientID, Seq: c.CommandID, Kind: Kind(c.Value[0]), Bytes: c.Value[1:]}
	switch in.Kind {
	case Open, Close, Restart:
		if len(in.Bytes) > 0 {
			return Input{}, fmt.Errorf("smr: %v input %v carries %d bytes", in.Kind, c, len(in.Bytes))
		}
	case Data:
	default:
		return Input{}, fmt.Errorf("smr: input %v of unknown kind %v", c, in.Kind)
	}
	return in, nil
}

// incarnation returns the "smr/<node>/<incarnation>/" prefix of a stream
// name and the "smr/<node>/" prefix, or false if the name has another form.
func incarnation(stream string) (inc, node string, ok bool) {
	parts := strings.SplitN(stream, "/", 4)
	if len(parts) != 4 || parts[0]+"/" != streamPrefix || parts[1] == "" || parts[2] == "" {
		return "", "", false
	}
	node = streamPrefix + parts[1] + "/"
	return node + parts[2] + "/", node, true
}
