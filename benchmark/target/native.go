package target

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ailidani/paxi-style/benchmark"
	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/native"
)

// Client paths to a paxi-style node, as the -client flag takes them.
const (
	ClientREST   = "rest"
	ClientNative = "native"
)

// Clients lists the client paths NewClient accepts.
var Clients = []string{ClientREST, ClientNative}

// NewClient returns a DB for the paxi-style node whose REST API is at base,
// through the given client path: REST (NewPaxi) or the native protocol at
// nativeAddr over conns connections. An empty nativeAddr stands for the
// node's REST port plus paxi.NativePortOffset (native.AddrFor(base)), the
// addresses paxi.Config.SetLocal gives.
func NewClient(path, base, nativeAddr, clientID string, conns int, timeout time.Duration) (benchmark.DB, error) {
	switch path {
	case ClientREST, "":
		return NewPaxi(base, clientID, timeout), nil
	case ClientNative:
		if nativeAddr == "" {
			var err error
			if nativeAddr, err = native.AddrFor(base); err != nil {
				return nil, err
			}
		}
		return NewNative(nativeAddr, clientID, conns, timeout)
	}
	return nil, fmt.Errorf("client %q: must be one of %q", path, Clients)
}

// NativeDB drives a paxi-style node through the native protocol. The
// benchmark's clients share its connections, each request going to the
// next connection in turn: on one connection, requests issued together
// leave in one write and their answers come back in one read, which is the
// protocol's point.
type NativeDB struct {
	conns []*native.Client
	next  atomic.Uint64
}

// NewNative connects conns times (at least once) to the native server at
// addr (host:port) as clientID, each connection with its own command ids
// (suffixed "/i" after the first, so that ids never collide). timeout
// bounds each request.
func NewNative(addr, clientID string, conns int, timeout time.Duration) (*NativeDB, error) {
	d := &NativeDB{}
	for i := range max(conns, 1) {
		id := clientID
		if i > 0 && id != "" {
			id += "/" + strconv.Itoa(i)
		}
		c, err := native.Dial(addr, id, native.ClientOptions{Timeout: timeout})
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("native %s: %w", addr, err)
		}
		d.conns = append(d.conns, c)
	}
	return d, nil
}

func (d *NativeDB) pick() *native.Client {
	if len(d.conns) == 1 {
		return d.conns[0]
	}
	return d.conns[d.next.Add(1)%uint64(len(d.conns))]
}

// Read gets key; client.ErrNotFound is a read of nothing, not a failure.
func (d *NativeDB) Read(ctx context.Context, key int) ([]byte, bool, error) {
	r, err := d.pick().Get(ctx, strconv.Itoa(key))
	if errors.Is(err, client.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return r.Value, r.Found, nil
}

// Write puts value to key.
func (d *NativeDB) Write(ctx context.Context, key int, value []byte) error {
	_, err := d.pick().Put(ctx, strconv.Itoa(key), value)
	return err
}

// Close closes the connections.
func (d *NativeDB) Close() error {
	for _, c := range d.conns {
		c.Close()
	}
	return nil
}
