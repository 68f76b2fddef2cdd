package paxi

import (
	"fmt"
	"strings"

	"github.com/ailidani/paxi-style/store"
)

// Message is anything a protocol sends, receives or sets a timer with. Every
// message prints itself deterministically: traces and golden tests depend on
// it. Messages sent between nodes must also be encodable by the transport
// codec (exported fields, no channels or funcs).
type Message interface {
	fmt.Stringer
}

// Command is a client operation on the key-value store. It is an alias so that
// protocols need only import paxi.
type Command = store.Command

// Op is the kind of a Command.
type Op = store.Op

// The operations a Command can carry.
const (
	Get    = store.Get
	Put    = store.Put
	Delete = store.Delete
	Noop   = store.Noop
)

// Request is a client command as it enters the protocol. Node and Handle
// say where the client waits for the answer: a protocol may forward a Request
// to another node (its leader) as an ordinary message, and whichever node
// executes it answers with Env.Reply, which routes the Reply back to Node.
type Request struct {
	Command Command `msgpack:"c"`
	// Node is the node the client is connected to.
	Node ID `msgpack:"n"`
	// Handle identifies the waiting client at Node.
	Handle uint64 `msgpack:"h"`
}

// String prints the request.
func (r Request) String() string {
	return fmt.Sprintf("Request{%v at %v/%d}", r.Command, r.Node, r.Handle)
}

// Reply answers a Request.
type Reply struct {
	// Node and Handle copy the Request's, for routing.
	Node   ID     `msgpack:"n"`
	Handle uint64 `msgpack:"h"`
	// ClientID and CommandID echo the command's.
	ClientID  string `msgpack:"c"`
	CommandID uint64 `msgpack:"i"`
	// Result is what the store returned.
	Result store.Result `msgpack:"r"`
	// Slot is the log position (or instance) that ordered the command, if
	// the protocol has one; -1 otherwise.
	Slot int64 `msgpack:"s"`
	// Ballot is the ballot the command was committed in, if any.
	Ballot Ballot `msgpack:"b"`
	// Err is non-empty if the command was not executed.
	Err string `msgpack:"e"`
}

// NewReply returns the reply to req for a command executed with result res.
func NewReply(req Request, res store.Result, slot int64, b Ballot) Reply {
	return Reply{
		Node: req.Node, Handle: req.Handle,
		ClientID: req.Command.ClientID, CommandID: req.Command.CommandID,
		Result: res, Slot: slot, Ballot: b,
	}
}

// String prints the reply.
func (r Reply) String() string {
	if r.Err != "" {
		return fmt.Sprintf("Reply{%s#%d err=%q}", r.ClientID, r.CommandID, r.Err)
	}
	return fmt.Sprintf("Reply{%s#%d found=%t v=%db slot=%d}", r.ClientID, r.CommandID, r.Result.Found, len(r.Result.Value), r.Slot)
}

// CommandsString prints a batch of commands as "[put(k=1,v=3b,c#1) get(...)]",
// the form protocol messages use in their String methods.
func CommandsString(cs []Command) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, c := range cs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(c.String())
	}
	b.WriteByte(']')
	return b.String()
}
