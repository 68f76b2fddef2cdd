package store

import (
	"fmt"
	"strconv"
)

// Op is the kind of a command.
type Op uint8

// The operations of the key-value state machine.
const (
	// Get reads the current value of a key.
	Get Op = iota
	// Put writes a value; the result carries the previous value.
	Put
	// Delete removes a key; the result carries the previous value.
	Delete
	// Noop changes nothing. Protocols use it to fill holes in a log.
	Noop
)

// String returns the operation's name.
func (o Op) String() string {
	switch o {
	case Get:
		return "get"
	case Put:
		return "put"
	case Delete:
		return "delete"
	case Noop:
		return "noop"
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// IsWrite reports whether the operation changes the store. Two commands on the
// same key conflict when at least one of them writes.
func (o Op) IsWrite() bool { return o == Put || o == Delete }

// Command is one client operation. ClientID and CommandID identify it: a store
// applies a command with a given non-empty ClientID and CommandID at most once.
type Command struct {
	Op        Op     `msgpack:"o" json:"op"`
	Key       string `msgpack:"k" json:"key"`
	Value     []byte `msgpack:"v" json:"value,omitempty"`
	ClientID  string `msgpack:"c" json:"client_id,omitempty"`
	CommandID uint64 `msgpack:"i" json:"command_id,omitempty"`
}

// String prints the command compactly and deterministically, e.g.
// `put(k=5,v=3b,c1#7)`.
func (c Command) String() string {
	switch c.Op {
	case Noop:
		return "noop"
	case Put:
		return fmt.Sprintf("put(k=%s,v=%db,%s#%d)", c.Key, len(c.Value), c.ClientID, c.CommandID)
	}
	return fmt.Sprintf("%s(k=%s,%s#%d)", c.Op, c.Key, c.ClientID, c.CommandID)
}

// Same reports whether c and o are the same client command (same client and
// command id, or equal contents for anonymous commands).
func (c Command) Same(o Command) bool {
	if c.ClientID != "" || o.ClientID != "" {
		return c.ClientID == o.ClientID && c.CommandID == o.CommandID
	}
	return c.Op == o.Op && c.Key == o.Key && string(c.Value) == string(o.Value)
}

// Result is what applying a command returned.
type Result struct {
	// Value is the current value for a Get and the previous value for a Put
	// or Delete.
	Value []byte `msgpack:"v" json:"value,omitempty"`
	// Found reports whether Value is a value of the key (false: the key had
	// no value, or was deleted).
	Found bool `msgpack:"f" json:"found"`
	// Version is the key's version after the command: 0 for a key never
	// written, incremented by every Put and Delete.
	Version uint64 `msgpack:"n" json:"version"`
	// Duplicate reports that the command had already been applied; the
	// result is the one recorded then and the store did not change.
	Duplicate bool `msgpack:"d" json:"duplicate,omitempty"`
}
