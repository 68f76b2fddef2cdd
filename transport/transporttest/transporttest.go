// Package transporttest is the conformance suite for transport.Transport:
// the same cases, run against every transport over loopback, so the TCP, UDP
// and in-process transports (and wrappers such as transport.Faulty) keep one
// contract. It also provides ready-made Kinds for the built-in transports,
// which tests elsewhere (the node runtime's) can use to get a loopback
// cluster on ports from :0.
//
// Call Run from a test of each transport:
//
//	func TestTCP(t *testing.T) { transporttest.Run(t, transporttest.TCP()) }
package transporttest

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport"
)

// Seq is a small numbered message: the suite checks senders and order with
// it.
type Seq struct {
	Sender paxi.ID `msgpack:"s"`
	N      int     `msgpack:"n"`
}

// String prints the message.
func (s Seq) String() string { return fmt.Sprintf("Seq{%v #%d}", s.Sender, s.N) }

// Blob carries a payload, to test large messages and byte integrity.
type Blob struct {
	N    int    `msgpack:"n"`
	Data []byte `msgpack:"d"`
}

// String prints the message.
func (b Blob) String() string { return fmt.Sprintf("Blob{#%d %db}", b.N, len(b.Data)) }

// Messages lists the suite's message types, for transport.NewCodec.
func Messages() []paxi.Message { return []paxi.Message{Seq{}, Blob{}} }

// Network is one test case's cluster of a transport kind: how to start a
// node, and where its socket is.
type Network struct {
	// Start creates the transport of node id. The suite calls it once per
	// node it starts, and again for a node it restarts after closing the
	// node's previous transport: the new transport must then be reachable
	// at the same address. opts carries the case's queue size and logger.
	Start func(id paxi.ID, opts transport.Options) (transport.Transport, error)
	// Addrs is each node's socket address, for the garbage-input case.
	// Nil for transports without sockets.
	Addrs map[paxi.ID]string
}

// Kind describes one transport to the suite.
type Kind struct {
	// Name labels the transport in test output.
	Name string
	// Setup prepares a network for the nodes ids, whose transports use
	// codec. It reserves addresses (ports from :0) and registers any
	// cleanup with t. Nodes are started later, by Network.Start.
	Setup func(t *testing.T, ids []paxi.ID, codec *transport.Codec) Network
	// Socket is the network ("tcp" or "udp") to dial Network.Addrs with
	// to write garbage; "" skips that case.
	Socket string
	// MaxMessageSize, if positive, is the largest encoded message the
	// transport carries: the suite checks that a larger one fails with
	// transport.ErrMessageTooLarge. Zero means the suite sends 1 MiB
	// messages, which must arrive intact.
	MaxMessageSize int
	// Lossy marks a transport that may lose messages with no faults, even
	// on loopback (UDP). The suite then resends where it waits for one
	// message, and accepts gaps, but not reordering, in sequences. It also
	// skips the full-queue case: a datagram writer never waits for its
	// peer, so its queue does not fill.
	Lossy bool
}

// wait bounds every wait for a message that should arrive. Passing cases
// take milliseconds; only a failure waits this long.
const wait = 10 * time.Second

// Run runs the conformance suite against k. Cases run in parallel, each on
// its own network.
func Run(t *testing.T, k Kind) {
	cases := []struct {
		name string
		f    func(t *testing.T, k Kind)
	}{
		{"AllPairs", testAllPairs},
		{"FIFO", testFIFO},
		{"ConcurrentSend", testConcurrentSend},
		{"Large", testLarge},
		{"Close", testClose},
		{"QueueFull", testQueueFull},
		{"Restart", testRestart},
		{"Garbage", testGarbage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.f(t, k)
		})
	}
}

// TCP returns the Kind for transport.NewTCP on 127.0.0.1, ports from :0.
func TCP() Kind {
	return Kind{Name: "tcp", Socket: "tcp", Setup: setupTCP}
}

func setupTCP(t *testing.T, ids []paxi.ID, codec *transport.Codec) Network {
	var mu sync.Mutex
	lns := make(map[paxi.ID]net.Listener, len(ids))
	addrs := make(map[paxi.ID]string, len(ids))
	for _, id := range ids {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[id] = ln
		addrs[id] = ln.Addr().String()
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, ln := range lns { // never started
			ln.Close()
		}
	})
	return Network{
		Addrs: addrs,
		Start: func(id paxi.ID, opts transport.Options) (transport.Transport, error) {
			mu.Lock()
			if ln, ok := lns[id]; ok { // first start: use the reserved port
				delete(lns, id)
				opts.Listener = ln
			}
			mu.Unlock()
			return transport.NewTCP(id, addrs, codec, opts)
		},
	}
}

// UDP returns the Kind for transport.NewUDP on 127.0.0.1, ports from :0.
func UDP() Kind {
	return Kind{Name: "udp", Socket: "udp", Setup: setupUDP, MaxMessageSize: transport.MaxDatagramSize, Lossy: true}
}

func setupUDP(t *testing.T, ids []paxi.ID, codec *transport.Codec) Network {
	var mu sync.Mutex
	pcs := make(map[paxi.ID]net.PacketConn, len(ids))
	addrs := make(map[paxi.ID]string, len(ids))
	for _, id := range ids {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		pcs[id] = pc
		addrs[id] = pc.LocalAddr().String()
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, pc := range pcs {
			pc.Close()
		}
	})
	return Network{
		Addrs: addrs,
		Start: func(id paxi.ID, opts transport.Options) (transport.Transport, error) {
			mu.Lock()
			if pc, ok := pcs[id]; ok {
				delete(pcs, id)
				opts.PacketConn = pc
			}
			mu.Unlock()
			return transport.NewUDP(id, addrs, codec, opts)
		},
	}
}

// Chan returns the Kind for a transport.ChanNetwork.
func Chan() Kind {
	return Kind{Name: "chan", Setup: func(_ *testing.T, ids []paxi.ID, _ *transport.Codec) Network {
		n := transport.NewChanNetwork()
		return Network{Start: func(id paxi.ID, opts transport.Options) (transport.Transport, error) {
			return n.Join(id, ids, opts)
		}}
	}}
}

// WithFaulty returns k with every transport wrapped in a transport.Faulty
// with no faults set: the wrapper must keep the contract.
func WithFaulty(k Kind) Kind {
	setup := k.Setup
	k.Name += "+faulty"
	k.Setup = func(t *testing.T, ids []paxi.ID, codec *transport.Codec) Network {
		n := setup(t, ids, codec)
		start := n.Start
		n.Start = func(id paxi.ID, opts transport.Options) (transport.Transport, error) {
			tr, err := start(id, opts)
			if err != nil {
				return nil, err
			}
			return transport.NewFaulty(tr, id, 1), nil
		}
		return n
	}
	return k
}

// TestLogger returns a logger that writes to t's output (shown with -v or
// on failure), at info level and above.
func TestLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// cluster is the nodes of one test case.
type cluster struct {
	t     *testing.T
	k     Kind
	net   Network
	ids   []paxi.ID
	opts  transport.Options
	mu    sync.Mutex
	nodes map[paxi.ID]transport.Transport
}

// newCluster sets up n nodes (IDs 1.1, 1.2, 2.1, 2.2, ... so that zones
// differ) and starts all but those listed in down.
func newCluster(t *testing.T, k Kind, n int, opts transport.Options, down ...paxi.ID) *cluster {
	t.Helper()
	ids := make([]paxi.ID, n)
	for i := range ids {
		ids[i] = paxi.NewID(i/2+1, i%2+1)
	}
	if opts.Logger == nil {
		opts.Logger = TestLogger(t)
	}
	c := &cluster{t: t, k: k, ids: ids, opts: opts, nodes: map[paxi.ID]transport.Transport{}}
	c.net = k.Setup(t, ids, transport.NewCodec(Messages()...))
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for id, tr := range c.nodes {
			if err := tr.Close(); err != nil {
				t.Errorf("close %v: %v", id, err)
			}
		}
	})
	for _, id := range ids {
		if !containsID(down, id) {
			c.start(id)
		}
	}
	return c
}

func containsID(ids []paxi.ID, id paxi.ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func (c *cluster) start(id paxi.ID) transport.Transport {
	c.t.Helper()
	tr, err := c.net.Start(id, c.opts)
	if err != nil {
		c.t.Fatalf("start %v: %v", id, err)
	}
	c.mu.Lock()
	c.nodes[id] = tr
	c.mu.Unlock()
	return tr
}

func (c *cluster) stop(id paxi.ID) {
	c.t.Helper()
	c.mu.Lock()
	tr := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if err := tr.Close(); err != nil {
		c.t.Fatalf("close %v: %v", id, err)
	}
}

func (c *cluster) node(id paxi.ID) transport.Transport {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

// send sends m and fails the test on any error.
func (c *cluster) send(from, to paxi.ID, m paxi.Message) {
	c.t.Helper()
	if err := c.node(from).Send(to, m); err != nil {
		c.t.Fatalf("%v.Send(%v, %v): %v", from, to, m, err)
	}
}

// recv returns the next message at node id, or fails the test after d.
func (c *cluster) recv(id paxi.ID, d time.Duration) transport.Envelope {
	c.t.Helper()
	env, ok := c.tryRecv(id, d)
	if !ok {
		c.t.Fatalf("node %v: no message within %v", id, d)
	}
	return env
}

func (c *cluster) tryRecv(id paxi.ID, d time.Duration) (transport.Envelope, bool) {
	c.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case env, ok := <-c.node(id).Recv():
		if !ok {
			c.t.Fatalf("node %v: Recv closed", id)
		}
		if env.To != id {
			c.t.Fatalf("node %v received %v addressed to %v", id, env.Msg, env.To)
		}
		return env, true
	case <-timer.C:
		return transport.Envelope{}, false
	}
}

// eventually sends Seq messages from -> to, every 20ms on a lossy or
// restarting link, until one numbered at least min arrives. Messages with
// lower numbers, or from other senders, are skipped.
func (c *cluster) eventually(from, to paxi.ID, minN int) {
	c.t.Helper()
	deadline := time.Now().Add(wait)
	for n := minN; time.Now().Before(deadline); n++ {
		err := c.node(from).Send(to, Seq{Sender: from, N: n})
		if err != nil && !errors.Is(err, transport.ErrQueueFull) {
			c.t.Fatalf("%v.Send(%v): %v", from, to, err)
		}
		poll := time.Now().Add(20 * time.Millisecond)
		for time.Now().Before(poll) {
			env, ok := c.tryRecv(to, time.Until(poll))
			if !ok {
				break
			}
			if s, isSeq := env.Msg.(Seq); isSeq && env.From == from && s.Sender == from && s.N >= minN {
				return
			}
		}
	}
	c.t.Fatalf("no message from %v reached %v within %v", from, to, wait)
}

// testAllPairs: every node, itself included, reaches every node, and
// envelopes name the right sender and receiver.
func testAllPairs(t *testing.T, k Kind) {
	c := newCluster(t, k, 3, transport.Options{})
	for _, to := range c.ids {
		for _, from := range c.ids {
			c.send(from, to, Seq{Sender: from, N: 1})
		}
	}
	for _, to := range c.ids {
		missing := map[paxi.ID]bool{}
		for _, from := range c.ids {
			missing[from] = true
		}
		deadline := time.Now().Add(wait)
		poll := wait
		if k.Lossy {
			poll = 100 * time.Millisecond
		}
		for len(missing) > 0 {
			env, ok := c.tryRecv(to, poll)
			if !ok {
				if time.Now().After(deadline) {
					t.Fatalf("node %v: nothing received from %v", to, missing)
				}
				for from := range missing {
					c.send(from, to, Seq{Sender: from, N: 1})
				}
				continue
			}
			s, isSeq := env.Msg.(Seq)
			if !isSeq || s.Sender != env.From {
				t.Fatalf("node %v: got %v with From=%v", to, env.Msg, env.From)
			}
			delete(missing, env.From)
		}
	}
}

// testFIFO: three nodes stream numbered messages to a fourth at once;
// each link's messages arrive in order, and (if not lossy) all of them.
func testFIFO(t *testing.T, k Kind) {
	const n = 2000
	c := newCluster(t, k, 4, transport.Options{QueueSize: 4 * n})
	to, senders := c.ids[0], c.ids[1:]
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // before the cluster closes
	for _, from := range senders {
		wg.Go(func() {
			for i := range n {
				if err := c.node(from).Send(to, Seq{Sender: from, N: i}); err != nil {
					t.Errorf("%v.Send #%d: %v", from, i, err)
					return
				}
				if k.Lossy && i%50 == 49 {
					time.Sleep(time.Millisecond) // let the receiver keep up
				}
			}
		})
	}
	last := map[paxi.ID]int{}
	for _, from := range senders {
		last[from] = -1
	}
	idle := wait
	if k.Lossy {
		idle = 300 * time.Millisecond
	}
	got := 0
	for got < n*len(senders) {
		env, ok := c.tryRecv(to, idle)
		if !ok {
			if k.Lossy {
				break
			}
			t.Fatalf("received %d of %d messages; last per sender %v", got, n*len(senders), last)
		}
		got++
		s := env.Msg.(Seq)
		switch prev := last[env.From]; {
		case s.N <= prev:
			t.Fatalf("link %v->%v: #%d after #%d", env.From, to, s.N, prev)
		case s.N != prev+1 && !k.Lossy:
			t.Fatalf("link %v->%v: #%d after #%d: lost %d", env.From, to, s.N, prev, s.N-prev-1)
		}
		last[env.From] = s.N
	}
	if got == 0 {
		t.Fatal("nothing received")
	}
	if got < n*len(senders) {
		t.Logf("lossy transport: %d of %d messages arrived, in order", got, n*len(senders))
	}
}

// testConcurrentSend: many goroutines share one transport.
func testConcurrentSend(t *testing.T, k Kind) {
	const goroutines, each = 8, 100
	c := newCluster(t, k, 2, transport.Options{QueueSize: 4 * goroutines * each})
	a, b := c.ids[0], c.ids[1]
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				to := b
				if i%2 == 0 {
					to = a
				}
				if err := c.node(a).Send(to, Seq{Sender: a, N: g*each + i}); err != nil {
					t.Errorf("Send: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	idle := wait
	if k.Lossy {
		idle = 300 * time.Millisecond
	}
	for _, id := range []paxi.ID{a, b} {
		got := 0
		for got < goroutines*each/2 {
			if _, ok := c.tryRecv(id, idle); !ok {
				break
			}
			got++
		}
		if got < goroutines*each/2 && (!k.Lossy || got == 0) {
			t.Fatalf("node %v received %d of %d", id, got, goroutines*each/2)
		}
	}
}

// testLarge: big messages arrive intact, or are refused up front with
// ErrMessageTooLarge by a transport with a size limit.
func testLarge(t *testing.T, k Kind) {
	c := newCluster(t, k, 2, transport.Options{})
	a, b := c.ids[0], c.ids[1]
	rng := rand.New(rand.NewPCG(1, 2))
	payload := func(n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		return p
	}
	if k.MaxMessageSize > 0 {
		err := c.node(a).Send(b, Blob{Data: make([]byte, k.MaxMessageSize)})
		if !errors.Is(err, transport.ErrMessageTooLarge) {
			t.Fatalf("Send of a %d-byte message: got %v, want ErrMessageTooLarge", k.MaxMessageSize, err)
		}
		if !strings.Contains(err.Error(), strconv.Itoa(k.MaxMessageSize)) {
			t.Errorf("error %q does not name the limit %d", err, k.MaxMessageSize)
		}
		data := payload(k.MaxMessageSize - 64)
		deadline := time.Now().Add(wait)
		for n := 0; ; n++ {
			if time.Now().After(deadline) {
				t.Fatal("a message just under the limit never arrived")
			}
			c.send(a, b, Blob{N: n, Data: data})
			if env, ok := c.tryRecv(b, 200*time.Millisecond); ok {
				if !bytes.Equal(env.Msg.(Blob).Data, data) {
					t.Fatal("payload corrupted")
				}
				return
			}
		}
	}
	// Several 1 MiB messages both ways, with small ones between them, so
	// frames span many reads and batches.
	const size = 1 << 20
	data := [][]byte{payload(size), payload(size), payload(size)}
	for i, d := range data {
		c.send(a, b, Blob{N: i, Data: d})
		c.send(a, b, Seq{Sender: a, N: i})
		c.send(b, a, Blob{N: i, Data: d})
	}
	for _, to := range []paxi.ID{a, b} {
		for i := 0; i < len(data); {
			env := c.recv(to, wait)
			blob, isBlob := env.Msg.(Blob)
			if !isBlob {
				continue
			}
			if blob.N != i || !bytes.Equal(blob.Data, data[i]) {
				t.Fatalf("node %v: blob #%d (%d bytes) does not match #%d", to, blob.N, len(blob.Data), i)
			}
			i++
		}
	}
}

// testClose: Send fails after Close, Recv is closed, Close is idempotent,
// and peers of the closed node carry on.
func testClose(t *testing.T, k Kind) {
	c := newCluster(t, k, 2, transport.Options{})
	a, b := c.ids[0], c.ids[1]
	ta := c.node(a)
	if err := ta.Send(paxi.NewID(9, 9), Seq{}); !errors.Is(err, transport.ErrUnknownPeer) {
		t.Errorf("Send to an unknown peer: got %v, want ErrUnknownPeer", err)
	}
	c.send(a, b, Seq{Sender: a})
	c.recv(b, wait)
	if err := ta.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := ta.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, to := range []paxi.ID{a, b} {
		if err := ta.Send(to, Seq{Sender: a}); !errors.Is(err, transport.ErrClosed) {
			t.Errorf("Send to %v after Close: got %v, want ErrClosed", to, err)
		}
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for open := true; open; {
		select {
		case _, open = <-ta.Recv():
		case <-timer.C:
			t.Fatal("Recv not closed by Close")
		}
	}
	// The survivor may queue or drop messages to the closed node, but it
	// keeps working.
	if err := c.node(b).Send(a, Seq{Sender: b}); err != nil && !errors.Is(err, transport.ErrQueueFull) {
		t.Errorf("Send to a closed peer: %v", err)
	}
	c.send(b, b, Seq{Sender: b, N: 7})
	if env := c.recv(b, wait); env.From != b || env.Msg.(Seq).N != 7 {
		t.Errorf("self delivery after a peer closed: got %v from %v", env.Msg, env.From)
	}
}

// testQueueFull: Send to a peer that is down never blocks; once the queue
// (and whatever the kernel buffers) is full it fails fast with
// ErrQueueFull. When the peer comes up, queued messages flow.
func testQueueFull(t *testing.T, k Kind) {
	if k.Lossy {
		t.Skip("a datagram transport does not wait for a down peer, so its queue does not fill")
	}
	// 64 MiB in all: more than the socket buffers of a reserved but not
	// yet accepting TCP port can absorb, so the queue must fill.
	const queue, sends = 8, 1024
	payload := make([]byte, 64<<10)
	c := newCluster(t, k, 2, transport.Options{QueueSize: queue}, paxi.NewID(1, 2))
	a, b := c.ids[0], c.ids[1]
	start := time.Now()
	full := 0
	for i := range sends {
		err := c.node(a).Send(b, Blob{N: i, Data: payload})
		switch {
		case errors.Is(err, transport.ErrQueueFull):
			full++
		case err != nil:
			t.Fatalf("Send #%d: %v", i, err)
		}
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("%d Sends to a down peer took %v: Send must not block", sends, took)
	}
	if full == 0 {
		t.Fatalf("no ErrQueueFull in %d Sends to a down peer with queue size %d", sends, queue)
	}
	c.start(b)
	env := c.recv(b, wait)
	if env.From != a {
		t.Fatalf("got %v from %v", env.Msg, env.From)
	}
}

// testRestart: a node closes and comes back on the same address; messages
// flow again both ways and with third parties (TCP must redial).
func testRestart(t *testing.T, k Kind) {
	c := newCluster(t, k, 3, transport.Options{})
	a, b, x := c.ids[0], c.ids[1], c.ids[2]
	c.eventually(a, b, 0)
	c.eventually(b, a, 0)
	for round := 1; round <= 2; round++ {
		c.stop(b)
		// Messages to the down node: dropped or queued, never an error
		// other than a full queue.
		for i := range 10 {
			if err := c.node(a).Send(b, Seq{Sender: a, N: i}); err != nil && !errors.Is(err, transport.ErrQueueFull) {
				t.Fatalf("Send to a down peer: %v", err)
			}
		}
		c.start(b)
		marker := 1000 * round
		c.eventually(a, b, marker)
		c.eventually(b, a, marker)
		c.eventually(x, b, marker)
		c.eventually(b, x, marker)
	}
}

// testGarbage: junk on a node's socket (random bytes, an absurd frame
// length, an HTTP request) is rejected without harm; the node and its
// peers keep working.
func testGarbage(t *testing.T, k Kind) {
	if k.Socket == "" {
		t.Skip("no socket")
	}
	c := newCluster(t, k, 3, transport.Options{})
	a, b, x := c.ids[0], c.ids[1], c.ids[2]
	c.eventually(a, b, 0)
	rng := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	junk := [][]byte{
		random,
		append([]byte{0xff, 0xff, 0xff, 0xff}, random[:100]...),
		append([]byte{0x03, 0xff, 0xff, 0xff}, random[:100]...), // 64 MiB frame, never sent
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		{},
		{0x01},
		{0x01, 0x00, 0x01, 0x00, 0x02, 0x00}, // UDP header from 1.2, empty body
		{0x01, 0x00, 0x09, 0x00, 0x09, 0x02, 0x80}, // from unknown 9.9
		{0x01, 0x00, 0x01, 0x00, 0x02, 0x7f, 0xc1}, // unknown code, bad msgpack
	}
	for i, j := range junk {
		conn, err := net.Dial(k.Socket, c.net.Addrs[b])
		if err != nil {
			t.Fatal(err)
		}
		if len(j) > 0 {
			if _, err := conn.Write(j); err != nil {
				t.Fatalf("junk %d: write: %v", i, err)
			}
		}
		if k.Socket == "tcp" && len(j) > 4 {
			// The node must hang up on us, not wait or crash.
			conn.SetReadDeadline(time.Now().Add(wait))
			var one [1]byte
			_, err := conn.Read(one[:])
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("junk %d: connection not closed by the node", i)
			}
		}
		conn.Close()
	}
	for _, p := range [][2]paxi.ID{{a, b}, {x, b}, {b, a}, {b, b}} {
		c.eventually(p[0], p[1], 1)
	}
}
