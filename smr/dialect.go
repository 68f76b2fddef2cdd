package smr

// Dialect is what the executor must know about a server program's wire
// protocol: where its requests and replies end, and which requests may run
// on a connection shared by every client. Nothing is rewritten; the bytes
// travel as they are.
type Dialect interface {
	// Name names the protocol in logs and errors ("redis").
	Name() string
	// Requests returns a scanner of the requests a client sends on one
	// connection.
	Requests() Requests
	// Replies returns a scanner of the replies the server sends back on
	// one connection.
	Replies() Replies
}

// Frame is what Requests.Scan found.
type Frame uint8

const (
	// Partial: no request ended; more input is needed.
	Partial Frame = iota
	// Blank: input the server skips without a reply (an empty line).
	Blank
	// Private: a request that must run on the client's own server
	// connection, because it depends on or changes that connection's state
	// (a transaction, a database number, a subscription, the protocol
	// version), may block or may not be answered exactly once; also every
	// request the dialect does not know, and malformed input.
	Private
	// Shared: a request that may run on a connection shared by all
	// clients: it neither depends on nor changes per-connection state,
	// never blocks, and gets exactly one reply.
	Shared
)

// Requests splits one direction of one connection into requests, fed in
// pieces cut at arbitrary points.
type Requests interface {
	// Scan consumes b up to the end of the current request, or all of b if
	// it does not end there, and says what it consumed.
	Scan(b []byte) (n int, f Frame)
}

// Replies splits the server's output on one connection into replies.
type Replies interface {
	// Scan consumes b up to the end of the current reply, or all of b, and
	// reports whether a reply to a request ended there (out-of-band
	// output, such as a RESP3 push, is not one).
	Scan(b []byte) (n int, end bool)
}

// countRequests returns how many requests that the server answers end in b.
func countRequests(r Requests, b []byte) int {
	count := 0
	for len(b) > 0 {
		n, f := r.Scan(b)
		b = b[n:]
		if f == Private || f == Shared {
			count++
		}
	}
	return count
}

// countReplies returns how many replies end in b.
func countReplies(r Replies, b []byte) int {
	count := 0
	for len(b) > 0 {
		n, end := r.Scan(b)
		b = b[n:]
		if end {
			count++
		}
	}
	return count
}
