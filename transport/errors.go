package transport

import "errors"

// Errors returned by transports and the codec. Most are wrapped with context
// (peer, sizes, type names); ErrClosed and ErrQueueFull, which a busy node
// may see for every message, are returned bare so they cost no allocation.
// Test them with errors.Is.
var (
	// ErrClosed is returned by Send after Close: the node is shutting down
	// and nothing more will be sent.
	ErrClosed = errors.New("transport: closed")

	// ErrUnknownPeer is returned by Send for a node that is not in the
	// cluster the transport was built for. It is a wiring bug in the caller,
	// not a network condition.
	ErrUnknownPeer = errors.New("transport: unknown peer")

	// ErrQueueFull is returned by Send when the peer's outgoing queue is
	// full, because the peer is slow, unreachable or restarting. The
	// message is dropped: Send never blocks on the network, and consensus
	// protocols already retransmit what they need.
	ErrQueueFull = errors.New("transport: peer queue full, message dropped")

	// ErrMessageTooLarge is returned for a message whose encoding exceeds
	// what the transport can carry in one unit (a UDP datagram, a TCP
	// frame). The error text names the size and the limit.
	ErrMessageTooLarge = errors.New("transport: message too large")

	// ErrUnregistered is returned when asked to send or encode a message
	// type that was not given to NewCodec. Every node of a cluster must
	// register the same types in the same order.
	ErrUnregistered = errors.New("transport: message type not registered with the codec")

	// ErrBadMessage is returned by Codec.Unmarshal for bytes that are not a
	// message of a registered type: an unknown code, corrupt or truncated
	// msgpack, trailing bytes. Transports log it and drop the connection or
	// datagram that carried it.
	ErrBadMessage = errors.New("transport: bad message")
)
