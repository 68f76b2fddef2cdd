package smr

import (
	"bufio"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
)

// lineServer is a fake server speaking Redis's request forms (arguments
// without CRLF inside): every line or multi-bulk array is a command, recorded in one global order when it is executed and answered
// +OK. Each connection has its own goroutine that waits a random time
// before it executes a line, so a server fed on several connections at once
// executes in an arbitrary order, as a real one may.
type lineServer struct {
	ln net.Listener

	mu       sync.Mutex
	order    []string
	live     int
	accepted int
}

func startLineServer(t *testing.T) *lineServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &lineServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for seed := uint64(1); ; seed++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c, rand.New(rand.NewPCG(seed, 7)))
		}
	}()
	return s
}

func (s *lineServer) serve(c net.Conn, rng *rand.Rand) {
	defer c.Close()
	s.mu.Lock()
	s.live++
	s.accepted++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.live--
		s.mu.Unlock()
	}()
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if strings.HasPrefix(line, "*") { // multi-bulk: record the arguments
			n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
			var args []string
			for range n {
				if _, err := r.ReadString('\n'); err != nil { // $len
					return
				}
				a, err := r.ReadString('\n')
				if err != nil {
					return
				}
				args = append(args, strings.TrimSpace(a))
			}
			line = strings.Join(args, " ")
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
		s.mu.Lock()
		s.order = append(s.order, strings.TrimSpace(line))
		s.mu.Unlock()
		if _, err := io.WriteString(c, "+OK\r\n"); err != nil {
			return
		}
	}
}

func (s *lineServer) state() ([]string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order), s.live
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testExecutor(t *testing.T, addr string, ss *sinks) *executor {
	t.Helper()
	e := newExecutor(addr, Redis, 5*time.Second, slog.New(slog.DiscardHandler), ss)
	t.Cleanup(e.stop)
	return e
}

// The executor makes the server execute inputs of different connections in
// log order, whatever order the server would pick, including commands cut
// across inputs (a command executes with the input that completes it).
func TestExecutorFeedsServerInLogOrder(t *testing.T) {
	srv := startLineServer(t)
	e := testExecutor(t, srv.ln.Addr().String(), &sinks{})
	const streams = 5
	name := func(i int) string { return "smr/1.1/x/" + string(rune('a'+i)) }
	seq := make([]uint64, streams)
	send := func(i int, k Kind, b string) {
		seq[i]++
		e.observe(Input{Stream: name(i), Seq: seq[i], Kind: k, Bytes: []byte(b)}.Command(), paxi.Reply{}.Result)
	}
	for i := range streams {
		send(i, Open, "")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var want []string
	partial := make([]string, streams) // a command cut in two, waiting for its end
	for n := range 300 {
		i := rng.IntN(streams)
		cmd := "c" + strconv.Itoa(n)
		if partial[i] != "" {
			send(i, Data, partial[i][len(partial[i])/2:]+"\n")
			want = append(want, partial[i])
			partial[i] = ""
			continue
		}
		if rng.IntN(5) == 0 {
			partial[i] = cmd
			send(i, Data, cmd[:len(cmd)/2])
			continue
		}
		send(i, Data, cmd+"\n")
		want = append(want, cmd)
	}
	for i := range streams {
		if partial[i] != "" {
			send(i, Data, partial[i][len(partial[i])/2:]+"\n")
			want = append(want, partial[i])
		}
		send(i, Close, "")
	}
	waitFor(t, "every command and close", func() bool {
		got, live := srv.state()
		return len(got) == len(want) && live == 0
	})
	got, _ := srv.state()
	if !slices.Equal(got, want) {
		for k := range got {
			if got[k] != want[k] {
				t.Fatalf("server executed %q at position %d, log order has %q", got[k], k, want[k])
			}
		}
	}
}

// Duplicates (the same stream and sequence number again) are executed
// once; a Restart closes the connections of the proxy's earlier
// incarnations and only those.
func TestExecutorDuplicatesAndRestart(t *testing.T) {
	srv := startLineServer(t)
	e := testExecutor(t, srv.ln.Addr().String(), &sinks{})
	in := func(stream string, seq uint64, k Kind, b string) {
		e.observe(Input{Stream: stream, Seq: seq, Kind: k, Bytes: []byte(b)}.Command(), paxi.Reply{}.Result)
	}
	old, other := "smr/1.1/inc1/1", "smr/1.2/inc1/1"
	in(old, 1, Open, "")
	in(old, 1, Open, "")
	in(old, 2, Data, "a\n")
	in(old, 2, Data, "a\n")
	in(other, 1, Open, "")
	in(other, 2, Data, "b\n")
	in(old, 3, Data, "c\n")
	waitFor(t, "three commands on two connections", func() bool {
		got, live := srv.state()
		return len(got) == 3 && live == 2
	})
	in("smr/1.1/inc2/0", 1, Restart, "")
	waitFor(t, "the old incarnation's connection to close", func() bool {
		_, live := srv.state()
		return live == 1
	})
	in(old, 4, Data, "d\n") // after its close: ignored
	in(other, 3, Data, "e\n")
	waitFor(t, "the other proxy's stream to go on", func() bool {
		got, _ := srv.state()
		return len(got) == 4
	})
	if got, _ := srv.state(); !slices.Equal(got, []string{"a", "b", "c", "e"}) {
		t.Fatalf("executed %q", got)
	}
}

// Replies go to the client when it is connected to this replica, and the
// client's connection closes when the server closes its side.
func TestExecutorForwardsRepliesToLocalClient(t *testing.T) {
	srv := startLineServer(t)
	var ss sinks
	e := testExecutor(t, srv.ln.Addr().String(), &ss)
	client, proxySide := net.Pipe()
	defer client.Close()
	const name = "smr/1.1/x/1"
	ss.add(name, newSink(proxySide))
	in := func(seq uint64, k Kind, b string) {
		e.observe(Input{Stream: name, Seq: seq, Kind: k, Bytes: []byte(b)}.Command(), paxi.Reply{}.Result)
	}
	in(1, Open, "")
	in(2, Data, "x\ny\n")
	in(3, Close, "")
	got, err := io.ReadAll(client)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "+OK\r\n+OK\r\n" {
		t.Fatalf("client got %q", got)
	}
}

// Requests that may share a connection go to the server on one connection
// in log order, private ones on the stream's own connection, and the server
// executes them all in log order; each client gets its own replies.
func TestExecutorSharedAndPrivateInLogOrder(t *testing.T) {
	srv := startLineServer(t)
	var ss sinks
	e := testExecutor(t, srv.ln.Addr().String(), &ss)
	const streams = 4
	name := func(i int) string { return "smr/1.1/x/" + strconv.Itoa(i) }
	clients := make([]net.Conn, streams)
	for i := range streams {
		c, proxySide := net.Pipe()
		clients[i] = c
		defer c.Close()
		ss.add(name(i), newSink(proxySide))
	}
	replies := make([]chan string, streams)
	for i := range streams {
		replies[i] = make(chan string, 1)
		go func() {
			b, _ := io.ReadAll(clients[i])
			replies[i] <- string(b)
		}()
	}
	seq := make([]uint64, streams)
	send := func(i int, k Kind, b string) {
		seq[i]++
		e.observe(Input{Stream: name(i), Seq: seq[i], Kind: k, Bytes: []byte(b)}.Command(), paxi.Reply{}.Result)
	}
	for i := range streams {
		send(i, Open, "")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var want []string
	wantReplies := make([]int, streams)
	pending := make([]string, streams)    // the rest of a request cut in two
	pendingCmd := make([]string, streams) // and its command
	for n := range 400 {
		i := rng.IntN(streams)
		cmd := "SET k" + strconv.Itoa(n)
		if i == 0 && n > 200 {
			cmd = "WATCH k" + strconv.Itoa(n) // stream 0 turns private half way
		}
		args := strings.Fields(cmd)
		req := "*" + strconv.Itoa(len(args)) + "\r\n"
		for _, a := range args {
			req += "$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n"
		}
		wantReplies[i]++
		if pendingCmd[i] != "" { // completed by this input
			want = append(want, pendingCmd[i])
			pendingCmd[i] = ""
		}
		cut := len(req)
		if rng.IntN(4) == 0 {
			cut = rng.IntN(len(req))
		}
		send(i, Data, pending[i]+req[:cut])
		pending[i] = req[cut:]
		if cut == len(req) {
			want = append(want, cmd)
		} else {
			pendingCmd[i] = cmd
		}
	}
	for i := range streams {
		if pending[i] != "" {
			send(i, Data, pending[i])
			want = append(want, pendingCmd[i])
		}
		send(i, Close, "")
	}
	waitFor(t, "every command", func() bool {
		got, _ := srv.state()
		return len(got) == len(want)
	})
	got, _ := srv.state()
	for k := range got {
		if got[k] != want[k] {
			t.Fatalf("server executed %q at position %d, log order has %q", got[k], k, want[k])
		}
	}
	for i := range streams {
		if r := <-replies[i]; r != strings.Repeat("+OK\r\n", wantReplies[i]) {
			t.Errorf("client %d got %d bytes of replies, want %d replies", i, len(r), wantReplies[i])
		}
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.accepted != 2 {
		t.Errorf("server had %d connections, want 2 (the shared one and stream 0's own)", srv.accepted)
	}
}
