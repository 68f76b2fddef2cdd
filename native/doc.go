// Package native is paxi-style's binary client protocol, the fast path
// next to the REST API: msgpack frames over one TCP connection per client,
// many requests in flight on it, responses matched to requests by id and
// sent as soon as each command completes, in any order.
//
// REST pays for HTTP parsing, headers and one request per connection at a
// time; on a 2-core machine a bare map behind net/http tops out near 35k
// ops/s, below what a batching Multi-Paxos leader can order. The native
// protocol removes that ceiling so that benchmarks measure the protocol,
// not the client stack. REST stays the default, for interoperability with
// the original Paxi's tools and for curl.
//
// # Wire format
//
// Each frame is a 4-byte big-endian length n (1 to the server's limit)
// followed by n bytes: one msgpack array. A client sends Requests
//
//	[ID uint, Op uint (0 get, 1 put, 2 delete), Key str, Value bin|nil, ClientID str, CommandID uint]
//
// and the server answers each with a Response
//
//	[ID uint, Value bin|nil, Found bool, Version uint, Slot int, Err str]
//
// echoing the request's ID. IDs are the client's to choose (unique among its
// requests in flight); the server never interprets them. A Response with
// Err set reports a rejected request (bad key, unknown op, a value over
// max_body_bytes, a malformed body whose ID could still be read) or a
// command not executed in time; the connection stays open. Only framing
// garbage (an empty frame, a length beyond 256 MiB, a body whose ID cannot
// be read) closes it. Keys, values and ids follow the REST API's rules, and
// a Get of a missing key is Found=false, not an error.
//
// # Server
//
// NewServer serves any client.Backend: a node, or the floor's bare store
// (package floor). Each connection has a reader goroutine, which decodes
// frames in place from its read buffer and runs each request in its own
// goroutine (at most ServerOptions.MaxInFlight per connection, after which
// it stops reading), and a writer goroutine, which encodes responses into a
// buffered writer and flushes it when no other response is waiting, so that
// replies completing together (a committed batch) leave in one write.
//
// A node serves the protocol with
//
//	srv := native.NewServer(n, logger, native.OptionsFor(cfg))
//	addr := cfg.NativeAddrs[id] // native_address in the configuration
//	_, err = srv.Start(addr)                       // or go srv.Serve(ln) on a pre-bound listener
//	defer srv.Close()
//
// # Client
//
// Dial returns a Client with client.REST's operations (Get, Put, Delete,
// Do, DoID returning client.Response and client.ErrNotFound). Callers share
// its connection: each encodes its frame into a common buffer that a writer
// goroutine sends whenever it is not empty, and a reader goroutine wakes
// the caller whose ID a response carries. When the connection breaks every
// waiting caller gets an error wrapping ErrConnection, and the next call
// dials again.
//
// Request and Response implement msgpack.CustomEncoder and CustomDecoder by
// hand, so neither side uses reflection on the hot path, and the decoders
// check every declared length against the frame before allocating.
package native
