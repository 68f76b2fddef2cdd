package target

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/benchmark"
	"github.com/ailidani/paxi-style/history"
)

// fakeEtcd serves /v3/kv/put and /v3/kv/range as etcd's v3 JSON gateway
// documents them: base64 keys and values, int64 fields as strings, and a
// missing key answered with the header only.
type fakeEtcd struct {
	t        *testing.T
	mu       sync.Mutex
	rev      int64
	kvs      map[string]etcdEntry
	failNext int // answer the next requests with a gateway error
}

type etcdEntry struct {
	value           []byte
	create, mod, vn int64
}

func newFakeEtcd(t *testing.T) (*fakeEtcd, *httptest.Server) {
	f := &fakeEtcd{t: t, rev: 1, kvs: map[string]etcdEntry{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeEtcd) header() map[string]string {
	return map[string]string{"cluster_id": "14841639068965178418", "member_id": "10276657743932975437",
		"revision": strconv.FormatInt(f.rev, 10), "raft_term": "2"}
}

func (f *fakeEtcd) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, `{"error":"method","code":12,"message":"method"}`, http.StatusMethodNotAllowed)
		return
	}
	if f.failNext > 0 {
		f.failNext--
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error":"etcdserver: leader changed","code":14,"message":"etcdserver: leader changed"}`)
		return
	}
	var req struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		f.t.Errorf("bad request body: %v", err)
		http.Error(w, `{"error":"bad","code":3}`, http.StatusBadRequest)
		return
	}
	key, err := base64.StdEncoding.DecodeString(req.Key)
	if err != nil {
		f.t.Errorf("key %q is not base64", req.Key)
	}
	enc := json.NewEncoder(w)
	switch r.URL.Path {
	case "/v3/kv/put":
		val, err := base64.StdEncoding.DecodeString(req.Value)
		if err != nil {
			f.t.Errorf("value %q is not base64", req.Value)
		}
		f.rev++
		e, ok := f.kvs[string(key)]
		if !ok {
			e.create = f.rev
		}
		e.value, e.mod, e.vn = val, f.rev, e.vn+1
		f.kvs[string(key)] = e
		enc.Encode(map[string]any{"header": f.header()})
	case "/v3/kv/range":
		e, ok := f.kvs[string(key)]
		if !ok {
			enc.Encode(map[string]any{"header": f.header()})
			return
		}
		enc.Encode(map[string]any{
			"header": f.header(),
			"kvs": []map[string]string{{
				"key":             req.Key,
				"create_revision": strconv.FormatInt(e.create, 10),
				"mod_revision":    strconv.FormatInt(e.mod, 10),
				"version":         strconv.FormatInt(e.vn, 10),
				"value":           base64.StdEncoding.EncodeToString(e.value),
			}},
			"count": "1",
		})
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"code":5,"error":"Not Found","message":"Not Found"}`)
	}
}

func TestEtcd(t *testing.T) {
	f, srv := newFakeEtcd(t)
	db, err := New(Etcd, srv.URL+"/", "", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if v, found, err := db.Read(ctx, 7); err != nil || found || v != nil {
		t.Fatalf("missing key: %q %v %v", v, found, err)
	}
	if err := db.Write(ctx, 7, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if v, found, err := db.Read(ctx, 7); err != nil || !found || string(v) != "hello" {
		t.Fatalf("read after write: %q %v %v", v, found, err)
	}
	if _, ok := f.kvs["7"]; !ok {
		t.Fatalf("keys are decimal strings: %v", f.kvs)
	}
	f.failNext = 2
	if err := db.Write(ctx, 7, []byte("x")); err == nil || !strings.Contains(err.Error(), "HTTP 503: etcdserver: leader changed (code 14)") {
		t.Fatalf("gateway error: %v", err)
	}
	if _, _, err := db.Read(ctx, 7); err == nil {
		t.Fatal("failed read is a success")
	}
}

// Answers that do not follow the documented shapes are errors, not empty
// successes.
func TestEtcdBadAnswers(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"not JSON", `<html>`, 200, "bad JSON answer"},
		{"no header", `{}`, 200, "answer has no header"},
		{"wrong key", `{"header":{"revision":"3"},"kvs":[{"key":"OTk=","value":"eA=="}],"count":"1"}`, 200, `answered key "99"`},
		{"count without kvs", `{"header":{"revision":"3"},"count":"2"}`, 200, "count 2 but no kvs"},
		{"bad int64", `{"header":{"revision":"x"}}`, 200, "bad JSON answer"},
		{"plain error", `upstream down`, 502, "HTTP 502: upstream down"},
		{"error in a 200", `{"error":"boom","code":2}`, 200, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			_, _, err := NewEtcd(srv.URL, time.Second).Read(context.Background(), 7)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	// Numbers as plain JSON numbers are read too.
	var n jsonInt64
	if err := json.Unmarshal([]byte(`42`), &n); err != nil || n != 42 {
		t.Fatalf("plain number: %v %v", n, err)
	}
}

// The whole runner against the fake etcd: every read in the history returns
// the latest value written to its key (one client, so this is exact).
func TestRunAgainstFakeEtcd(t *testing.T) {
	_, srv := newFakeEtcd(t)
	cfg := benchmark.DefaultConfig()
	cfg.T, cfg.N, cfg.K, cfg.Concurrency = 0, 300, 10, 1
	db := NewEtcd(srv.URL, time.Second)
	res, err := benchmark.Run(context.Background(), benchmark.Options{Config: cfg, KeepValues: true,
		Target: func(int) (benchmark.Target, error) { return benchmark.Target{Zone: 1, Node: srv.URL, DB: db}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := res.WriteHistory(&buf); err != nil {
		t.Fatal(err)
	}
	ops, err := history.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	last := map[string][]byte{}
	reads := 0
	for _, o := range ops {
		if o.Error != "" {
			t.Fatalf("error %s", o.Error)
		}
		if o.Kind == history.Put {
			last[o.Key] = o.Input
		} else if w, ok := last[o.Key]; o.Found != ok || !bytes.Equal(o.Output, w) {
			t.Fatalf("%v: want %q", o, w)
		} else if ok {
			reads++
		}
	}
	if len(ops) != 300 || reads == 0 {
		t.Fatalf("%d operations, %d reads of written keys", len(ops), reads)
	}
}

// fakePaxi serves the original Paxi's REST API: GET/PUT /{key} with an
// integer key, headers Id and Cid, 200 and the value (empty if none).
type fakePaxi struct {
	t    *testing.T
	mu   sync.Mutex
	data map[int][]byte
	cids map[string]int64
	down bool
}

func (f *fakePaxi) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		http.Error(w, "no leader", http.StatusInternalServerError)
		return
	}
	key, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
	if err != nil {
		f.t.Errorf("path %q: key is not an integer", r.URL.Path)
	}
	id := r.Header.Get("Id")
	cid, err := strconv.ParseInt(r.Header.Get("Cid"), 10, 64)
	if err != nil || id == "" {
		f.t.Errorf("headers Id=%q Cid=%q", id, r.Header.Get("Cid"))
	}
	if cid <= f.cids[id] {
		f.t.Errorf("client %s: command id %d after %d", id, cid, f.cids[id])
	}
	f.cids[id] = cid
	w.Header().Set("Id", id)
	w.Header().Set("Cid", strconv.FormatInt(cid, 10))
	switch r.Method {
	case http.MethodPut, http.MethodPost:
		b, _ := io.ReadAll(r.Body)
		w.Write(f.data[key]) // the previous value
		f.data[key] = b
	default:
		w.Write(f.data[key])
	}
}

func TestPaxiOriginal(t *testing.T) {
	f := &fakePaxi{t: t, data: map[int][]byte{}, cids: map[string]int64{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	db, err := New(PaxiOriginal, srv.URL, "c1", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if v, found, err := db.Read(ctx, 3); err != nil || found || len(v) != 0 {
		t.Fatalf("missing key (200, empty body): %q %v %v", v, found, err)
	}
	if err := db.Write(ctx, 3, []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if v, found, err := db.Read(ctx, 3); err != nil || !found || string(v) != "v1" {
		t.Fatalf("read: %q %v %v", v, found, err)
	}
	f.down = true
	if _, _, err := db.Read(ctx, 3); err == nil || !strings.Contains(err.Error(), "HTTP 500: no leader") {
		t.Fatalf("a failed read is an error, not a miss: %v", err)
	}
	srv.Close()
	if err := db.Write(ctx, 3, []byte("v2")); err == nil {
		t.Fatal("write to a closed server succeeded")
	}
}

// The paxi-style adapter reads the node's "no value" answer (404 with
// header Nv) as a miss, and other failures as errors.
func TestPaxiStyle(t *testing.T) {
	data := map[string]string{}
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		key, ok := strings.CutPrefix(r.URL.Path, "/kv/")
		if !ok {
			http.Error(w, `{"error":"path"}`, http.StatusNotFound)
			return
		}
		switch r.Method {
		case http.MethodPut:
			b, _ := io.ReadAll(r.Body)
			data[key] = string(b)
		case http.MethodGet:
			if key == "13" {
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, `{"error":"not executed within request_timeout"}`)
				return
			}
			v, ok := data[key]
			if !ok {
				w.Header().Set("Nv", "true")
				w.WriteHeader(http.StatusNotFound)
				return
			}
			io.WriteString(w, v)
		}
	}))
	defer srv.Close()
	db, _ := New(Paxi, srv.URL, "bench", time.Second)
	ctx := context.Background()
	if _, found, err := db.Read(ctx, 1); err != nil || found {
		t.Fatalf("miss: %v %v", found, err)
	}
	if err := db.Write(ctx, 1, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if v, found, err := db.Read(ctx, 1); err != nil || !found || string(v) != "a" {
		t.Fatalf("hit: %q %v %v", v, found, err)
	}
	if _, _, err := db.Read(ctx, 13); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("503 is an error: %v", err)
	}
}

func TestNewUnknown(t *testing.T) {
	if _, err := New("zookeeper", "http://x", "", 0); err == nil || !strings.Contains(err.Error(), fmt.Sprint(`"paxi"`)) {
		t.Fatalf("unknown target: %v", err)
	}
}
