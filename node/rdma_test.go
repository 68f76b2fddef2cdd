package node_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/node"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/store"
	"github.com/ailidani/paxi-style/transport"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// mirror is a test protocol on one-sided RDMA: a Put at any node is
// written (length, then bytes) into every other node's region with RDMA
// WRITEs and answered when all of them completed; a Get answers with the
// node's region as it is; every remote change of the region is counted
// from the Changed messages the node hands to Step.
type mirror struct {
	env     paxi.Env
	dev     rdma.Device
	mr      rdma.MR
	qps     map[paxi.ID]rdma.QP
	up      int
	changed int
	nextWR  uint64
	waiting map[uint64]*mirrorPut
}

type mirrorPut struct {
	req  paxi.Request
	left int
}

func mirrorProtocol() paxi.Protocol {
	return paxi.Protocol{Name: "mirror", RDMA: true, New: func(env paxi.Env) (paxi.Replica, error) {
		dev, err := rdma.From(env)
		if err != nil {
			return nil, err
		}
		m := &mirror{env: env, dev: dev, qps: map[paxi.ID]rdma.QP{}, waiting: map[uint64]*mirrorPut{}}
		if m.mr, err = dev.Register(64, rdma.RemoteAll); err != nil {
			return nil, err
		}
		m.mr.Watch(0, 64)
		for _, p := range env.Peers() {
			if p == env.ID() {
				continue
			}
			q, err := dev.QP(p, 0)
			if err != nil {
				return nil, err
			}
			if err := q.Connect(rdma.RemoteAll); err != nil {
				return nil, err
			}
			m.qps[p] = q
		}
		return m, nil
	}}
}

// pending reports whether a queue pair is not in RTS (failed, or
// reconnecting).
func (m *mirror) pending() bool {
	for _, q := range m.qps {
		if q.State() != rdma.RTS {
			return true
		}
	}
	return false
}

func (m *mirror) Step(from paxi.ID, msg paxi.Message) error {
	switch x := msg.(type) {
	case rdma.Event:
		if x.Kind == rdma.Connected {
			m.up++
		}
	case rdma.Changed:
		m.changed++
	case rdma.WC:
		p := m.waiting[x.ID]
		delete(m.waiting, x.ID)
		if p == nil {
			return fmt.Errorf("completion of unknown request %v", x)
		}
		if x.Status != rdma.Success {
			// E.g. RetryExceeded because the peer's end was not connected
			// yet: the queue pair is in Err; reconnect it, and the client
			// retries.
			if q := m.qps[x.Peer]; q.State() == rdma.Err {
				m.up--
				q.Reset()
				q.Connect(rdma.RemoteAll)
			}
			if p.left > 0 {
				m.env.Reply(p.req, paxi.Reply{Err: x.Status.String()})
			}
			p.left = -1
			return nil
		}
		if p.left--; p.left == 0 {
			m.env.Reply(p.req, paxi.Reply{Result: store.Result{Value: []byte("ok")}})
		}
	case paxi.Request:
		switch {
		case x.Command.Op == paxi.Get:
			n := m.mr.Load64(0)
			v := make([]byte, min(n, 56))
			m.mr.Read(8, v)
			m.env.Reply(x, paxi.Reply{Result: store.Result{Value: v, Found: n > 0}})
		case m.up < len(m.qps) || m.pending():
			m.env.Reply(x, paxi.Reply{Err: "not connected yet"})
		default:
			buf := binary.LittleEndian.AppendUint64(nil, uint64(len(x.Command.Value)))
			buf = append(buf, x.Command.Value...)
			p := &mirrorPut{req: x, left: len(m.qps)}
			for _, q := range m.qps {
				m.nextWR++
				m.waiting[m.nextWR] = p
				if err := q.Post(rdma.WR{ID: m.nextWR, Op: rdma.Write, Local: buf, RKey: rdma.FirstRKey, Signaled: true}); err != nil {
					return err
				}
			}
		}
	default:
		return fmt.Errorf("mirror: unexpected %T", msg)
	}
	return nil
}

// startMirror runs the mirror protocol on 3 nodes over the channel
// transport with the given rdma section and fabric.
func startMirror(t *testing.T, rc paxi.RDMAConfig, fabric *rdma.Mem) []*node.Node {
	t.Helper()
	cfg := paxi.DefaultConfig()
	cfg.Transport = paxi.TransportChan
	cfg.LogLevel = "error"
	cfg.NativeAddrs = nil
	cfg.RDMA = rc
	cn := transport.NewChanNetwork()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var nodes []*node.Node
	for _, id := range cfg.IDs() {
		hl := listen(t)
		cfg.HTTPAddrs[id] = "http://" + hl.Addr().String()
		n, err := node.New(cfg, id, mirrorProtocol(), node.Options{Logger: logger, ChanNet: cn, HTTPListener: hl, RDMAFabric: fabric})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
		t.Cleanup(func() { n.Close() })
	}
	for _, n := range nodes {
		n.Run()
	}
	return nodes
}

// checkMirror puts a value at the first node once the queue pairs are up
// and reads it at the others: the writes went through their memory
// without their replicas, which learnt of them by Changed in Step.
func checkMirror(t *testing.T, nodes []*node.Node) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	for ctx.Err() == nil {
		if _, err = nodes[0].Do(ctx, paxi.Command{Op: paxi.Put, Key: "k", Value: []byte("over rdma")}); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	for _, n := range nodes[1:] {
		rep, err := n.Do(ctx, paxi.Command{Op: paxi.Get, Key: "k"})
		if err != nil || string(rep.Result.Value) != "over rdma" {
			t.Fatalf("get at %v: %q, %v", n.ID(), rep.Result.Value, err)
		}
	}
}

// A protocol with Protocol.RDMA runs on the runtime with the mem backend:
// the nodes of the process share one fabric, and completions and memory
// changes reach the replicas through Step.
func TestRDMAMem(t *testing.T) {
	fabric, err := rdma.NewMem(rdma.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fabric.Close()
	checkMirror(t, startMirror(t, paxi.RDMAConfig{}, fabric))
}

// The same protocol with the shm backend: every node maps its peers'
// files (here all in one process, each with its own mappings).
func TestRDMAShm(t *testing.T) {
	dir, err := os.MkdirTemp(shmBase(), "paxi-node-rdma-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	checkMirror(t, startMirror(t, paxi.RDMAConfig{Backend: paxi.RDMAShm, Dir: dir, Cluster: "nodetest"}, nil))
}

// shmBase is where the shm test files go: /dev/shm if the machine has it.
func shmBase() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

// Misconfigurations fail at node.New with errors that name the fix.
func TestRDMAConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		rc   paxi.RDMAConfig
		want string
	}{
		{"mem without a shared fabric", paxi.RDMAConfig{}, "paxi local"},
		{"unknown profile", paxi.RDMAConfig{Profile: "ib-qdr"}, `rdma.profile: rdma: bad options: unknown profile "ib-qdr"`},
		{"unknown placement", paxi.RDMAConfig{Placement: "sideways"}, `rdma.placement`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := paxi.DefaultConfig()
			cfg.Transport = paxi.TransportChan
			cfg.NativeAddrs = nil
			cfg.RDMA = c.rc
			hl := listen(t)
			cfg.HTTPAddrs[cfg.IDs()[0]] = "http://" + hl.Addr().String()
			_, err := node.New(cfg, cfg.IDs()[0], mirrorProtocol(), node.Options{ChanNet: transport.NewChanNetwork(), HTTPListener: hl,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	// A protocol without Protocol.RDMA gets no device, and From says so.
	p := mirrorProtocol()
	p.RDMA = false
	cfg := paxi.DefaultConfig()
	cfg.Transport = paxi.TransportChan
	cfg.NativeAddrs = nil
	hl := listen(t)
	cfg.HTTPAddrs[cfg.IDs()[0]] = "http://" + hl.Addr().String()
	_, err := node.New(cfg, cfg.IDs()[0], p, node.Options{ChanNet: transport.NewChanNetwork(), HTTPListener: hl,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if !errors.Is(err, rdma.ErrNoRDMA) {
		t.Fatalf("protocol without RDMA: %v, want ErrNoRDMA", err)
	}
}
