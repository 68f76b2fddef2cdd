// Package floor is the machine's floor: an unreplicated in-memory
// key-value store served behind the same REST handler and the same native
// protocol server as a node, in this process, on loopback ports.
//
// Benchmarking it with the same workload and client as a cluster measures
// what the client stack and the machine allow without any replication, so
// that a protocol's result can be reported as a fraction of it (issue 6:
// "no REST-driven system can pass that floor here"). Both endpoints are
// served at once so that one run measures both client paths.
package floor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/internal/cputime"
	"github.com/ailidani/paxi-style/native"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/store"
)

// ProtocolName is what the floor reports as its protocol in /status.
const ProtocolName = "floor"

// ID is the node ID the floor reports in /status (the zero ID does not
// survive a JSON round trip).
var ID = paxi.NewID(1, 1)

// Backend is a store.Store behind a mutex, implementing client.Backend with
// no replication and no faults: each command is applied at once, in the
// caller's goroutine. It is the cheapest backend the REST and native
// servers can have, and uses the same store (sessions, versions) as a node
// so that only replication separates the two.
type Backend struct {
	mu sync.Mutex
	s  *store.Store
}

// NewBackend returns an empty store.
func NewBackend() *Backend { return &Backend{s: store.New()} }

// Do applies cmd. Slot is -1: nothing orders commands but the mutex.
func (b *Backend) Do(ctx context.Context, cmd paxi.Command) (paxi.Reply, error) {
	b.mu.Lock()
	res := b.s.Apply(cmd)
	b.mu.Unlock()
	return paxi.Reply{ClientID: cmd.ClientID, CommandID: cmd.CommandID, Result: res, Slot: -1}, nil
}

// Submit applies cmd at once and calls done: the native server's path to a
// backend without a goroutine per request, as it has to a node.
func (b *Backend) Submit(cmd paxi.Command, _ time.Duration, done func(paxi.Reply, error)) {
	done(b.Do(context.Background(), cmd))
}

// History returns key's versions.
func (b *Backend) History(ctx context.Context, key string) ([]store.Version, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.s.History(key), nil
}

// Status reports protocol "floor" with no ballot: to the benchmarker, a
// leaderless system that needs no election before the load starts.
func (b *Backend) Status(ctx context.Context) (client.Status, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return client.Status{ID: ID, Protocol: ProtocolName, Applied: b.s.Applied(), Faults: []string{},
		PID: os.Getpid(), CPUSeconds: cputime.Seconds()}, nil
}

// Faults returns an injector that injects nothing: there is no transport.
func (b *Backend) Faults() client.Faults { return noFaults{} }

type noFaults struct{}

func (noFaults) Crash(time.Duration)                        {}
func (noFaults) Drop(paxi.ID, time.Duration)                {}
func (noFaults) Slow(paxi.ID, time.Duration, time.Duration) {}
func (noFaults) Flaky(paxi.ID, float64, time.Duration)      {}
func (noFaults) Heal()                                      {}
func (noFaults) Faults() []string                           { return []string{} }

// Floor is a Backend served over REST and the native protocol.
type Floor struct {
	// Backend is the store both endpoints serve.
	Backend *Backend
	// RESTURL is the REST API's base URL, e.g. "http://127.0.0.1:40123".
	RESTURL string
	// NativeAddr is the native server's host:port.
	NativeAddr string

	http   *http.Server
	native *native.Server
}

// Start serves a new Backend on two loopback ports chosen by the system,
// with cfg's limits (max_body_bytes, request_timeout) as a node would. log
// receives server errors (nil: discarded).
func Start(cfg *paxi.Config, log *slog.Logger) (*Floor, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Floor{Backend: NewBackend()}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("floor: REST: %w", err)
	}
	f.RESTURL = "http://" + hl.Addr().String()
	// The same server settings as a node's REST API (node.New).
	f.http = &http.Server{Handler: client.NewServer(f.Backend, cfg, log), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := f.http.Serve(hl); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("floor: REST API stopped", "err", err)
		}
	}()
	f.native = native.NewServer(f.Backend, log, native.OptionsFor(cfg))
	addr, err := f.native.Start("127.0.0.1:0")
	if err != nil {
		f.http.Close()
		return nil, fmt.Errorf("floor: %w", err)
	}
	f.NativeAddr = addr.String()
	return f, nil
}

// Close stops both servers.
func (f *Floor) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := f.http.Shutdown(ctx)
	f.native.Close()
	return err
}
