package node_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/internal/clustertest"
	"github.com/ailidani/paxi-style/node"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/paxos"
)

// cluster is n nodes of Multi-Paxos on loopback TCP, ports from :0.
type cluster struct {
	cfg   *paxi.Config
	nodes map[paxi.ID]*node.Node
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	cfg := paxi.DefaultConfig()
	cfg.SetLocal(n, 1, 1, 1)
	cfg.LogLevel = "warn"
	cfg.RequestTimeout = paxi.Duration(3 * time.Second)
	lns := map[paxi.ID][3]net.Listener{}
	for _, id := range cfg.IDs() {
		tl, hl, nl := listen(t), listen(t), listen(t)
		cfg.Addrs[id] = tl.Addr().String()
		cfg.HTTPAddrs[id] = "http://" + hl.Addr().String()
		cfg.NativeAddrs[id] = nl.Addr().String()
		lns[id] = [3]net.Listener{tl, hl, nl}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c := &cluster{cfg: cfg, nodes: map[paxi.ID]*node.Node{}}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(&tlog{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	for _, id := range cfg.IDs() {
		nd, err := node.New(cfg, id, paxos.Protocol(), node.Options{
			Logger: logger, Listener: lns[id][0], HTTPListener: lns[id][1], NativeListener: lns[id][2],
		})
		if err != nil {
			t.Fatal(err)
		}
		c.nodes[id] = nd
		t.Cleanup(func() { nd.Close() })
	}
	for _, nd := range c.nodes {
		nd.Run()
	}
	return c
}

type tlog struct{ t *testing.T }

func (w *tlog) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func (c *cluster) client(id paxi.ID, name string) *client.REST {
	return client.NewREST(c.cfg.HTTPAddrs[id], name, 3*time.Second)
}

// leader waits until the live nodes agree on a leader.
func (c *cluster) leader(t *testing.T, live []paxi.ID) paxi.ID {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var leaders []paxi.ID
		for _, id := range live {
			st, err := c.nodes[id].Status(context.Background())
			if err == nil {
				leaders = append(leaders, st.Leader)
			}
		}
		if len(leaders) == len(live) && leaders[0] != 0 && !slices.ContainsFunc(leaders, func(l paxi.ID) bool { return l != leaders[0] }) && slices.Contains(live, leaders[0]) {
			return leaders[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("live nodes %v agree on no live leader", live)
	return 0
}

func TestPutOnOneNodeGetOnAnother(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	c.leader(t, c.cfg.IDs())
	if _, err := c.client(paxi.MustID("1.2"), "a").Put(ctx, "greeting", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	r, err := c.client(paxi.MustID("1.3"), "b").Get(ctx, "greeting")
	if err != nil || string(r.Value) != "hello" {
		t.Fatalf("GET on 1.3 = %q, %v; want hello", r.Value, err)
	}
	if _, err := c.client(paxi.MustID("1.1"), "b").Get(ctx, "never"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("GET of a missing key: %v, want ErrNotFound", err)
	}
}

func (c *cluster) urls(ids []paxi.ID) []string {
	var out []string
	for _, id := range ids {
		out = append(out, c.cfg.HTTPAddrs[id])
	}
	return out
}

func others(ids []paxi.ID, not paxi.ID) []paxi.ID {
	return slices.DeleteFunc(slices.Clone(ids), func(id paxi.ID) bool { return id == not })
}

// The leader's process stops mid-load (transport and REST API closed, as a
// kill does): the survivors elect a new leader and keep serving, and no
// acknowledged write is lost.
func TestLeaderKilledMidLoad(t *testing.T) {
	c := startCluster(t, 3)
	old := c.leader(t, c.cfg.IDs())
	live := others(c.cfg.IDs(), old)
	l := clustertest.StartLoad(c.urls(c.cfg.IDs()), 6, 5)
	time.Sleep(300 * time.Millisecond)
	c.nodes[old].Close()
	newLeader := c.leader(t, live)
	before := l.Acked()
	time.Sleep(700 * time.Millisecond)
	l.Stop()
	t.Logf("leader %v killed; new leader %v", old, newLeader)
	if l.Acked() <= before {
		t.Fatalf("no write acknowledged after the new leader took over (%d before, %d after)", before, l.Acked())
	}
	clustertest.CheckAcked(t, c.urls(live), l)
}

// The same through the fault-injection endpoint: /crash isolates the leader
// for two seconds; a new leader takes over; after the crash ends the old
// leader catches up and all three histories agree.
func TestLeaderCrashEndpoint(t *testing.T) {
	c := startCluster(t, 3)
	old := c.leader(t, c.cfg.IDs())
	live := others(c.cfg.IDs(), old)
	l := clustertest.StartLoad(c.urls(live), 4, 5)
	time.Sleep(200 * time.Millisecond)
	if err := c.client(old, "").Admin(context.Background(), "crash", url.Values{"t": {"2"}}); err != nil {
		t.Fatal(err)
	}
	newLeader := c.leader(t, live)
	if newLeader == old {
		t.Fatalf("crashed leader %v still leads", old)
	}
	time.Sleep(2500 * time.Millisecond) // the crash ends; the old leader rejoins
	l.Stop()
	clustertest.CheckAcked(t, c.urls(c.cfg.IDs()), l)
}

func TestRESTErrors(t *testing.T) {
	c := startCluster(t, 3)
	c.leader(t, c.cfg.IDs())
	base := c.cfg.HTTPAddrs[paxi.MustID("1.1")]
	big := strings.Repeat("x", int(c.cfg.MaxBodyBytes)+1)
	tests := []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/bad%20key", "", http.StatusBadRequest},
		{"PATCH", "/k", "", http.StatusMethodNotAllowed},
		{"PUT", "/k", big, http.StatusRequestEntityTooLarge},
		{"GET", "/a/b", "", http.StatusNotFound},
		{"GET", "/missing", "", http.StatusNotFound},
		{"GET", "/history", "", http.StatusBadRequest},
		{"GET", "/crash?t=abc", "", http.StatusBadRequest},
		{"GET", "/drop?id=9.9&t=1", "", http.StatusBadRequest},
		{"POST", "/", "{not json", http.StatusBadRequest},
		{"PUT", "/k", "v", http.StatusOK},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, base+tt.path, strings.NewReader(tt.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s: %d %s, want %d", tt.method, tt.path, resp.StatusCode, b, tt.want)
		}
		if tt.want >= 400 && tt.path != "/missing" && !strings.Contains(string(b), `"error"`) {
			t.Errorf("%s %s: error body %q is not JSON {\"error\": ...}", tt.method, tt.path, b)
		}
	}
}
