package master_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/master"
	"github.com/ailidani/paxi-style/paxi"
)

func newMaster(t *testing.T) (*paxi.Config, *master.Server, string) {
	t.Helper()
	cfg := paxi.DefaultConfig()
	cfg.SetLocal(5, 5, 21735, 28081)
	cfg.WAN = &paxi.WAN{Preset: "aws5"}
	cfg.Protocol = "paxos"
	s, err := master.NewServer(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return cfg, s, hs.Listener.Addr().String()
}

func TestFetchReturnsTheServedConfig(t *testing.T) {
	cfg, _, addr := newMaster(t)
	for _, a := range []string{addr, "http://" + addr, "http://" + addr + "/"} {
		got, err := master.Fetch(context.Background(), a, 5*time.Second)
		if err != nil {
			t.Fatalf("Fetch(%q): %v", a, err)
		}
		if !slices.Equal(got.IDs(), cfg.IDs()) || got.Protocol != cfg.Protocol || got.WAN == nil || got.WAN.Preset != "aws5" {
			t.Fatalf("Fetch(%q) = %+v, want %+v", a, got, cfg)
		}
		for _, id := range cfg.IDs() {
			if got.Addrs[id] != cfg.Addrs[id] || got.HTTPAddrs[id] != cfg.HTTPAddrs[id] || got.NativeAddrs[id] != cfg.NativeAddrs[id] {
				t.Errorf("node %v: addresses %q %q %q, want %q %q %q", id, got.Addrs[id], got.HTTPAddrs[id], got.NativeAddrs[id],
					cfg.Addrs[id], cfg.HTTPAddrs[id], cfg.NativeAddrs[id])
			}
		}
	}
}

// The master keeps its own copy: changing the caller's config afterwards
// changes nothing that nodes are served.
func TestServerCopiesConfig(t *testing.T) {
	cfg, _, addr := newMaster(t)
	cfg.Protocol = "changed"
	got, err := master.Fetch(context.Background(), addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.Protocol != "paxos" {
		t.Fatalf("protocol %q after the caller changed its copy", got.Protocol)
	}
}

func TestReadiness(t *testing.T) {
	cfg, s, addr := newMaster(t)
	ctx := context.Background()
	ids := cfg.IDs()
	r, err := master.Ready(ctx, addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Ready) != 0 || r.All || !slices.Equal(r.Nodes, ids) {
		t.Fatalf("before any report: %+v", r)
	}
	for i, id := range ids {
		r, err := master.Report(ctx, addr, id, time.Second)
		if err != nil {
			t.Fatalf("report %v: %v", id, err)
		}
		if !slices.Equal(r.Ready, ids[:i+1]) || r.All != (i == len(ids)-1) {
			t.Fatalf("after reporting %v: %+v", ids[:i+1], r)
		}
	}
	// Reporting again (a restarted node) changes nothing.
	if _, err := master.Report(ctx, addr, ids[0], time.Second); err != nil {
		t.Fatal(err)
	}
	if r := s.Readiness(); !r.All || len(r.Ready) != len(ids) {
		t.Fatalf("after a repeated report: %+v", r)
	}
}

func TestReportUnknownNodeIsRejected(t *testing.T) {
	_, _, addr := newMaster(t)
	_, err := master.Report(context.Background(), addr, paxi.MustID("9.9"), 5*time.Second)
	if !errors.Is(err, master.ErrRejected) {
		t.Fatalf("report of a node not in the config: %v, want ErrRejected", err)
	}
	t.Log(err)
}

func TestUnknownEndpoint(t *testing.T) {
	_, _, addr := newMaster(t)
	resp, err := http.Get("http://" + addr + "/nosuch")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /nosuch: %s", resp.Status)
	}
}

func TestBadAddress(t *testing.T) {
	for _, a := range []string{"", "nohost", "https://h:1", "h:1/path", "ftp://h:1"} {
		if _, err := master.Fetch(context.Background(), a, time.Second); !errors.Is(err, master.ErrRejected) {
			t.Errorf("Fetch(%q): %v, want ErrRejected", a, err)
		}
	}
}

// Nothing listens: Fetch gives up at its deadline with ErrUnreachable and
// the reason, instead of waiting for ever.
func TestUnreachableMaster(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = master.Fetch(context.Background(), addr, 300*time.Millisecond)
	if !errors.Is(err, master.ErrUnreachable) {
		t.Fatalf("Fetch from a closed port: %v, want ErrUnreachable", err)
	}
	t.Log(err)
}

// A master that is starting (5xx) is retried; one that serves something
// that is not a valid configuration is not.
func TestRetryAndBadConfig(t *testing.T) {
	cfg, _, good := newMaster(t)
	var calls atomic.Int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		resp, err := http.Get("http://" + good + r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		io.Copy(w, resp.Body)
	}))
	defer flaky.Close()
	got, err := master.Fetch(context.Background(), flaky.URL, 10*time.Second)
	if err != nil {
		t.Fatalf("Fetch through a master that answered 503 twice: %v", err)
	}
	if got.N() != cfg.N() || calls.Load() != 3 {
		t.Fatalf("got %d nodes after %d calls", got.N(), calls.Load())
	}

	var badCalls atomic.Int32
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		badCalls.Add(1)
		w.Write([]byte(`{"protocol": "paxos", "pipeline": 0}`))
	}))
	defer bad.Close()
	_, err = master.Fetch(context.Background(), bad.URL, 10*time.Second)
	if !errors.Is(err, master.ErrRejected) || !errors.Is(err, paxi.ErrBadConfig) || badCalls.Load() != 1 {
		t.Fatalf("Fetch of an invalid config: %v after %d calls, want ErrRejected and ErrBadConfig after 1", err, badCalls.Load())
	}
	t.Log(err)
}
