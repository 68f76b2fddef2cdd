package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/store"
)

// fake is a Backend over a plain store, recording fault calls.
type fake struct {
	mu     sync.Mutex
	s      *store.Store
	cmds   []paxi.Command
	faults []string
}

func (f *fake) Do(ctx context.Context, c paxi.Command) (paxi.Reply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, c)
	if c.Key == "slow" {
		return paxi.Reply{}, paxi.ErrTimeout
	}
	return paxi.Reply{Result: f.s.Apply(c), Slot: int64(len(f.cmds)), Ballot: paxi.NewBallot(2, paxi.MustID("1.1"))}, nil
}

func (f *fake) History(ctx context.Context, key string) ([]store.Version, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s.History(key), nil
}

func (f *fake) Status(ctx context.Context) (client.Status, error) {
	return client.Status{ID: paxi.MustID("1.1"), Protocol: "fake", Leader: paxi.MustID("1.1"), Ballot: "1.1.1"}, nil
}

func (f *fake) Faults() client.Faults { return fakeFaults{f} }

// fakeFaults records fault calls in the fake.
type fakeFaults struct{ f *fake }

func (x fakeFaults) Crash(d time.Duration) { x.f.record("crash " + d.String()) }
func (x fakeFaults) Drop(to paxi.ID, d time.Duration) {
	x.f.record("drop " + to.String() + " " + d.String())
}
func (x fakeFaults) Slow(to paxi.ID, delay, d time.Duration) {
	x.f.record("slow " + to.String() + " " + delay.String() + " " + d.String())
}
func (x fakeFaults) Flaky(to paxi.ID, p float64, d time.Duration) {
	x.f.record("flaky " + to.String() + " " + d.String())
}
func (x fakeFaults) Heal()            { x.f.record("heal") }
func (x fakeFaults) Faults() []string { return []string{} }

func (f *fake) record(s string) {
	f.mu.Lock()
	f.faults = append(f.faults, s)
	f.mu.Unlock()
}

// serve starts the REST API over a fake backend, with a 64-byte body limit.
func serve(t *testing.T, token string) (*httptest.Server, *fake) {
	t.Helper()
	cfg := paxi.DefaultConfig()
	cfg.MaxBodyBytes = 64
	cfg.AdminToken = token
	f := &fake{s: store.New()}
	srv := httptest.NewServer(client.NewServer(f, cfg, slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)
	return srv, f
}

func do(t *testing.T, method, u, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestKeyValueEndpoints(t *testing.T) {
	srv, f := serve(t, "")
	ids := map[string]string{"Id": "c1", "Cid": "7"}
	resp, body := do(t, "PUT", srv.URL+"/k1", "v1", ids)
	if resp.StatusCode != 200 || body != "" || resp.Header.Get("Id") != "c1" || resp.Header.Get("Cid") != "7" ||
		resp.Header.Get("Slot") != "1" || resp.Header.Get("Ballot") != "2.1.1" {
		t.Fatalf("PUT: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = do(t, "POST", srv.URL+"/k1", "v2", nil)
	if resp.StatusCode != 200 || body != "v1" {
		t.Fatalf("POST returned %d %q, want the previous value v1", resp.StatusCode, body)
	}
	resp, body = do(t, "GET", srv.URL+"/kv/k1", "", nil)
	if resp.StatusCode != 200 || body != "v2" {
		t.Fatalf("GET /kv/k1: %d %q", resp.StatusCode, body)
	}
	resp, _ = do(t, "GET", srv.URL+"/missing", "", nil)
	if resp.StatusCode != 404 || resp.Header.Get("Nv") != "true" {
		t.Fatalf("GET missing: %d %v", resp.StatusCode, resp.Header)
	}
	resp, body = do(t, "DELETE", srv.URL+"/k1", "", nil)
	if resp.StatusCode != 200 || body != "v2" {
		t.Fatalf("DELETE: %d %q", resp.StatusCode, body)
	}
	// Reserved words are keys under /kv/.
	if resp, _ = do(t, "PUT", srv.URL+"/kv/history", "h", nil); resp.StatusCode != 200 {
		t.Fatalf("PUT /kv/history: %d", resp.StatusCode)
	}
	if c := f.cmds[0]; c.Op != paxi.Put || c.Key != "k1" || string(c.Value) != "v1" || c.ClientID != "c1" || c.CommandID != 7 {
		t.Fatalf("backend got %+v", c)
	}
}

func TestPaxiJSONCommand(t *testing.T) {
	srv, f := serve(t, "")
	resp, _ := do(t, "POST", srv.URL+"/", `{"Key":9,"Value":"aGVsbG8=","ClientID":"c9","CommandID":45}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("JSON put: %d", resp.StatusCode)
	}
	resp, body := do(t, "POST", srv.URL, `{"Key":"9","Value":null}`, nil)
	if resp.StatusCode != 200 || body != "hello" {
		t.Fatalf("JSON read: %d %q", resp.StatusCode, body)
	}
	if c := f.cmds[0]; c.Key != "9" || c.ClientID != "c9" || c.CommandID != 45 || string(c.Value) != "hello" {
		t.Fatalf("backend got %+v", c)
	}
}

func TestBadRequests(t *testing.T) {
	srv, _ := serve(t, "")
	tests := []struct {
		method, path, body string
		hdr                map[string]string
		code               int
		want               string
	}{
		{"GET", "/bad%20key", "", nil, 400, "bad key"},
		{"GET", "/kv/" + strings.Repeat("x", 257), "", nil, 400, "bad key"},
		{"PATCH", "/k", "", nil, 405, "method PATCH not allowed"},
		{"PUT", "/k", strings.Repeat("x", 65), nil, 413, "over 64 bytes"},
		{"GET", "/a/b/c", "", nil, 404, "no such endpoint"},
		{"GET", "/k", "", map[string]string{"Id": "c", "Cid": "x"}, 400, `header Cid = "x"`},
		{"GET", "/k", "", map[string]string{"Cid": "3"}, 400, "needs a client id"},
		{"POST", "/", "{", nil, 400, "bad JSON command"},
		{"POST", "/", `{"Key":[1]}`, nil, 400, "Key must be a number or a string"},
		{"GET", "/history", "", nil, 400, "missing key"},
		{"GET", "/slow", "", nil, 503, "not executed"},
		{"GET", "/crash", "", nil, 400, "parameter t is missing"},
		{"GET", "/crash?t=soon", "", nil, 400, `parameter t = "soon"`},
		{"GET", "/drop?id=x&t=1", "", nil, 400, "parameter id"},
		{"GET", "/drop?id=7.7&t=1", "", nil, 400, "no such node"},
		{"GET", "/slow?id=1.2&t=1&delay=-1", "", nil, 400, "parameter delay"},
		{"GET", "/flaky?id=1.2&t=1&p=2", "", nil, 400, "parameter p"},
	}
	for _, tt := range tests {
		path := tt.path
		if path == "/slow" {
			path = "/kv/slow" // the fake times this key out
		}
		resp, body := do(t, tt.method, srv.URL+path, tt.body, tt.hdr)
		var e struct{ Error string }
		if resp.StatusCode != tt.code || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Error, tt.want) {
			t.Errorf("%s %s: %d %s, want %d with %q", tt.method, path, resp.StatusCode, body, tt.code, tt.want)
		}
	}
}

func TestHistoryFormats(t *testing.T) {
	srv, _ := serve(t, "")
	do(t, "PUT", srv.URL+"/k", "hello", map[string]string{"Id": "c", "Cid": "1"})
	do(t, "DELETE", srv.URL+"/k", "", nil)
	do(t, "PUT", srv.URL+"/k", "world", nil)
	_, body := do(t, "GET", srv.URL+"/history?key=k", "", nil)
	if body != `["aGVsbG8=",null,"d29ybGQ="]`+"\n" {
		t.Fatalf("history = %s", body)
	}
	c := client.NewREST(srv.URL, "", time.Second)
	h, err := c.History(context.Background(), "k")
	if err != nil || string(h[0]) != "hello" || h[1] != nil || string(h[2]) != "world" {
		t.Fatalf("History = %q, %v", h, err)
	}
	d, err := c.HistoryDetail(context.Background(), "k")
	if err != nil || len(d) != 3 || d[0].ClientID != "c" || d[0].CommandID != 1 || !d[1].Deleted || d[2].Version != 3 {
		t.Fatalf("HistoryDetail = %+v, %v", d, err)
	}
}

func TestAdminToken(t *testing.T) {
	srv, f := serve(t, "s3cret")
	resp, _ := do(t, "GET", srv.URL+"/crash?t=1", "", nil)
	if resp.StatusCode != 401 {
		t.Fatalf("crash without token: %d", resp.StatusCode)
	}
	resp, _ = do(t, "GET", srv.URL+"/crash?t=1", "", map[string]string{client.TokenHeader: "wrong"})
	if resp.StatusCode != 401 {
		t.Fatalf("crash with a wrong token: %d", resp.StatusCode)
	}
	c := client.NewREST(srv.URL, "", time.Second).WithToken("s3cret")
	for _, a := range []struct {
		what string
		q    url.Values
	}{
		{"crash", url.Values{"t": {"1.5"}}},
		{"drop", url.Values{"id": {"1.2"}, "t": {"0"}}},
		{"slow", url.Values{"id": {"1.3"}, "t": {"2"}, "delay": {"30"}}},
		{"flaky", url.Values{"id": {"1.2"}, "t": {"1"}, "p": {"0.5"}}},
		{"heal", nil},
	} {
		if err := c.Admin(context.Background(), a.what, a.q); err != nil {
			t.Fatalf("%s: %v", a.what, err)
		}
	}
	want := []string{"crash 1.5s", "drop 1.2 0s", "slow 1.3 30ms 2s", "flaky 1.2 1s", "heal"}
	if strings.Join(f.faults, ",") != strings.Join(want, ",") {
		t.Fatalf("faults = %q, want %q", f.faults, want)
	}
}

func TestRESTClient(t *testing.T) {
	srv, f := serve(t, "")
	c := client.NewREST(srv.URL, "me", time.Second)
	ctx := context.Background()
	if _, err := c.Get(ctx, "k"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Get of a missing key: %v", err)
	}
	if _, err := c.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	r, err := c.Get(ctx, "k")
	if err != nil || string(r.Value) != "v" || !r.Found || r.Version != 1 {
		t.Fatalf("Get = %+v, %v", r, err)
	}
	// Command ids increase per client and are not reused by a new client
	// with the same id.
	c2 := client.NewREST(srv.URL, "me", time.Second)
	c2.Put(ctx, "k", []byte("w"))
	if a, b := f.cmds[1].CommandID, f.cmds[3].CommandID; b <= a {
		t.Fatalf("second client reused command ids: %d then %d", a, b)
	}
	_, err = c.Get(ctx, "bad key")
	var se *client.StatusError
	if !errors.As(err, &se) || se.Code != 400 {
		t.Fatalf("bad key: %v", err)
	}
	st, err := c.Status(ctx)
	if err != nil || st.Leader != paxi.MustID("1.1") {
		t.Fatalf("Status = %+v, %v", st, err)
	}
}
