package smr

// Dialect is what the executor must know about a server program's wire
// protocol: where its requests and its replies end. Nothing else is parsed;
// the bytes travel as they are.
//
// The executor needs the counts to force the server to execute the ordered
// inputs in log order across connections (see the package comment): before
// it writes to another connection, it waits until the server has answered
// every complete request written so far.
type Dialect interface {
	// Name names the protocol in logs and errors ("redis").
	Name() string
	// Requests returns a counter of complete requests in the bytes a
	// client sends on one connection.
	Requests() Counter
	// Replies returns a counter of complete replies in the bytes the
	// server sends back on one connection.
	Replies() Counter
}

// Counter counts the complete messages in one direction of one connection,
// fed in pieces cut at arbitrary points.
type Counter interface {
	// Feed consumes the next piece of the stream and returns how many
	// messages ended in it.
	Feed(b []byte) int
}
