// Package history is the client history format every part of paxi-style
// shares: the benchmarker and the simulator record it, the checker reads it.
// A history is a list of operations with their invocation and response
// times; on disk it is JSON lines, one operation per line.
package history

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// Kinds of operation.
const (
	Get    = "get"
	Put    = "put"
	Delete = "delete"
)

// Operation is one client operation as the client saw it.
type Operation struct {
	// Client identifies the client (one client has at most one operation
	// outstanding at a time).
	Client string `json:"client"`
	// Kind is "get", "put" or "delete".
	Kind string `json:"kind"`
	// Key is the key operated on.
	Key string `json:"key"`
	// Input is the value written by a put.
	Input []byte `json:"input,omitempty"`
	// Output is the value a get returned; Found says whether there was one.
	Output []byte `json:"output,omitempty"`
	Found  bool   `json:"found,omitempty"`
	// Call and Return are when the client sent the request and received the
	// answer, in nanoseconds on one clock (wall time, or simulated time).
	Call   int64 `json:"call"`
	Return int64 `json:"return"`
	// Node is the node the client talked to.
	Node string `json:"node,omitempty"`
	// Error is set when the client got no answer or an error. Such a write
	// may or may not have taken effect; such a read tells nothing.
	Error string `json:"error,omitempty"`
}

// String prints the operation compactly, e.g. `c3 put(k7,"x") [10,25]`.
func (o Operation) String() string {
	var op string
	switch o.Kind {
	case Put:
		op = fmt.Sprintf("put(%s,%s)", o.Key, strconv.Quote(string(o.Input)))
	case Get:
		if o.Found {
			op = fmt.Sprintf("get(%s)=%s", o.Key, strconv.Quote(string(o.Output)))
		} else {
			op = fmt.Sprintf("get(%s)=nil", o.Key)
		}
	default:
		op = fmt.Sprintf("%s(%s)", o.Kind, o.Key)
	}
	if o.Error != "" {
		op += " error=" + strconv.Quote(o.Error)
	}
	return fmt.Sprintf("%s %s [%d,%d]", o.Client, op, o.Call, o.Return)
}

// Validate reports what is wrong with an operation, if anything.
func (o Operation) Validate() error {
	switch o.Kind {
	case Get, Put, Delete:
	default:
		return fmt.Errorf("kind %q: want get, put or delete", o.Kind)
	}
	if o.Client == "" {
		return fmt.Errorf("client is empty")
	}
	if o.Error == "" && o.Return < o.Call {
		return fmt.Errorf("returns at %d before its call at %d", o.Return, o.Call)
	}
	return nil
}

// Writer writes operations as JSON lines.
type Writer struct {
	w   *bufio.Writer
	enc *json.Encoder
}

// NewWriter returns a Writer to w. Call Flush when done.
func NewWriter(w io.Writer) *Writer {
	bw := bufio.NewWriter(w)
	return &Writer{w: bw, enc: json.NewEncoder(bw)}
}

// Write writes one operation.
func (w *Writer) Write(o Operation) error { return w.enc.Encode(o) }

// Flush flushes buffered lines.
func (w *Writer) Flush() error { return w.w.Flush() }

// Read reads a JSON-lines history, checking every operation. Errors name
// the line.
func Read(r io.Reader) ([]Operation, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	var ops []Operation
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var o Operation
		if err := json.Unmarshal(b, &o); err != nil {
			return nil, fmt.Errorf("history: line %d: %w", line, err)
		}
		if err := o.Validate(); err != nil {
			return nil, fmt.Errorf("history: line %d: %w", line, err)
		}
		ops = append(ops, o)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return ops, nil
}
