package paxi

import "errors"

// Errors returned by the core. Wrap them with %w; test them with errors.Is.
var (
	// ErrBadID is returned when text cannot be parsed as a zone.node ID.
	ErrBadID = errors.New("paxi: bad node id")

	// ErrUnknownMessage is returned by Router.Step for a message type that no
	// handler was registered for.
	ErrUnknownMessage = errors.New("paxi: no handler for message")

	// ErrBadConfig is wrapped by every configuration validation error.
	ErrBadConfig = errors.New("paxi: invalid config")

	// ErrUnknownProtocol is returned when a configuration names a protocol
	// that is not in the protocol table.
	ErrUnknownProtocol = errors.New("paxi: unknown protocol")

	// ErrTimeout is returned to a client whose request was not answered in
	// time (the leader may be down, or the system overloaded).
	ErrTimeout = errors.New("paxi: request timed out")

	// ErrStopped is returned for requests made to a node that is shutting
	// down.
	ErrStopped = errors.New("paxi: node stopped")
)
