package smr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/ailidani/paxi-style/node"
	"github.com/ailidani/paxi-style/paxi"
)

// ReplicaConfig describes one replica of a replicated Redis.
type ReplicaConfig struct {
	// Config is the cluster configuration and ID this replica's node.
	Config *paxi.Config
	ID     paxi.ID
	// Protocol orders the inputs.
	Protocol paxi.Protocol
	// Listen is the host:port clients connect to, instead of Redis.
	Listen string
	// Listener, if set, is used instead of listening at Listen.
	Listener net.Listener
	// Redis starts this replica's redis-server.
	Redis RedisOptions
	// ReplyWait: see Options.ReplyWait.
	ReplyWait time.Duration
	// Node tunes the node (its Logger defaults to Logger).
	Node node.Options
	// Logger receives the proxy's logs; nil discards them.
	Logger *slog.Logger
}

// Replica is one running replica: its redis-server, its node (protocol
// replica, transport, REST API) and its proxy.
type Replica struct {
	ID    paxi.ID
	Node  *node.Node
	Proxy *Proxy
	Redis *RedisServer
	// Addr is where clients connect.
	Addr string

	ln     net.Listener
	served chan error
}

// StartReplica starts a redis-server, the node and the proxy, and serves
// clients. The server starts empty: a replica that restarts replays the
// protocol's log into it from the beginning.
func StartReplica(ctx context.Context, rc ReplicaConfig) (_ *Replica, err error) {
	r := &Replica{ID: rc.ID, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	if r.ln = rc.Listener; r.ln == nil {
		if r.ln, err = net.Listen("tcp", rc.Listen); err != nil {
			return nil, fmt.Errorf("smr: replica %v: %w", rc.ID, err)
		}
	}
	r.Addr = r.ln.Addr().String()
	if r.Redis, err = StartRedis(ctx, rc.Redis); err != nil {
		return nil, fmt.Errorf("smr: replica %v: %w", rc.ID, err)
	}
	r.Proxy, err = New(rc.ID, Options{
		Server:         r.Redis.Addr,
		ReplyWait:      rc.ReplyWait,
		RequestTimeout: time.Duration(rc.Config.RequestTimeout),
		Logger:         rc.Logger,
	})
	if err != nil {
		return nil, err
	}
	if rc.Node.Logger == nil {
		rc.Node.Logger = rc.Logger
	}
	if r.Node, err = node.New(rc.Config, rc.ID, r.Proxy.Protocol(rc.Protocol), rc.Node); err != nil {
		return nil, err
	}
	r.Node.Run()
	go func() { r.served <- r.Proxy.Serve(r.ln, r.Node) }()
	return r, nil
}

// Done is closed when the replica can no longer serve: its node stopped,
// its redis-server exited or its proxy failed. Err says which.
func (r *Replica) Done() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		select {
		case <-r.Node.Done():
		case <-r.Redis.Exited():
		case <-r.Proxy.Failed():
		}
		close(done)
	}()
	return done
}

// Err says why the replica stopped, once Done is closed.
func (r *Replica) Err() error {
	select {
	case <-r.Redis.Exited():
		return fmt.Errorf("smr: replica %v: redis-server exited: %v", r.ID, r.Redis.err)
	default:
	}
	if err := r.Proxy.Err(); err != nil {
		return fmt.Errorf("smr: replica %v: %w", r.ID, err)
	}
	return nil
}

// Close stops the proxy, the node and the redis-server.
func (r *Replica) Close() error {
	var errs []error
	if r.Proxy != nil {
		errs = append(errs, r.Proxy.Close())
	} else if r.ln != nil {
		r.ln.Close()
	}
	if r.Node != nil {
		errs = append(errs, r.Node.Close())
	}
	if r.Redis != nil {
		errs = append(errs, r.Redis.Stop())
	}
	return errors.Join(errs...)
}
