package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ailidani/paxi-style/benchmark"
	"github.com/ailidani/paxi-style/history"
)

func TestBadBenchFlags(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bench", "-target", "zk"}, `-target "zk": must be one of paxi, paxi-original, etcd`},
		{[]string{"bench", "-target", "etcd", "-endpoints", "ftp://x"}, `"ftp://x" is not an http:// or https:// URL`},
		{[]string{"bench", "-target", "etcd", "-endpoints", "9.x=http://h:1"}, `-endpoints "9.x=http://h:1"`},
		{[]string{"bench", "-mu", "1,z"}, `-mu: mean "z"`},
		{[]string{"bench", "-dist", "gauss", "-K", "0"}, `benchmark.Distribution = "gauss"`},
		{[]string{"bench", "sweep", "-levels", "4,2"}, "levels must increase (2 after 4)"},
		{[]string{"bench", "sweep", "-levels", "1,x"}, `"x" is not a positive number`},
		{[]string{"sweep", "-c", "8"}, "-c has no effect in a sweep"},
		{[]string{"sweep", "-gain", "0", "-patience", "0"}, "-gain 0: must be positive"},
		{[]string{"sweep", "-plot", "fig.gif"}, "the extension must be one of .png, .svg, .pdf"},
		{[]string{"local", "-plot", "x.png"}, "-plot is a sweep flag: add -sweep"},
		{[]string{"local", "-target", "etcd"}, "-target and -endpoints are for paxi bench"},
		{[]string{"local", "-sweep", "-c", "4"}, "-c has no effect with -sweep"},
		{[]string{"plot", filepath.Join(dir, "x.csv")}, "-o is required"},
		{[]string{"plot", "-o", "x.gif"}, "no input files"},
		{[]string{"plot", "-o", "x.png", "-y", "p42", "-kind", "pie", "f.csv"}, `-kind "pie"`},
		{[]string{"plot", "-o", filepath.Join(dir, "x.png"), filepath.Join(dir, "none.csv")}, "no such file"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if code := run(tt.args, &out, &errb); code == 0 {
			t.Errorf("paxi %v succeeded", tt.args)
		} else if !strings.Contains(errb.String(), tt.want) {
			t.Errorf("paxi %v: error %q, want %q", tt.args, errb.String(), tt.want)
		}
	}
}

// fakeEtcdGateway is the smallest etcd v3 JSON gateway: put and range.
func fakeEtcdGateway(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	kv := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Key, Value string }
		json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		defer mu.Unlock()
		header := map[string]string{"revision": "1", "raft_term": "2"}
		switch r.URL.Path {
		case "/v3/kv/put":
			kv[req.Key] = req.Value
			json.NewEncoder(w).Encode(map[string]any{"header": header})
		case "/v3/kv/range":
			v, ok := kv[req.Key]
			if !ok {
				json.NewEncoder(w).Encode(map[string]any{"header": header})
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"header": header, "count": "1",
				"kvs": []map[string]string{{"key": req.Key, "value": v, "version": "1"}}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// paxi bench drives another system through -target and writes every result
// file; paxi plot draws them.
func TestBenchEtcdWritesFilesAndPlots(t *testing.T) {
	srv := fakeEtcdGateway(t)
	dir := t.TempDir()
	var out, errb bytes.Buffer
	args := []string{"bench", "-target", "etcd", "-endpoints", "1.1=" + srv.URL + ",2.1=" + srv.URL,
		"-at", "zone", "-N", "400", "-c", "4", "-o", dir}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("paxi bench exited %d: %s", code, errb.String())
	}
	t.Log(out.String())
	// Header, overall, two zones and the CPU line (only this process:
	// etcd reports no CPU of its own).
	if lines := strings.Count(out.String(), "\n"); lines != 5 || !strings.Contains(out.String(), "etcd") ||
		!strings.Contains(out.String(), "cpu: ") || !strings.Contains(out.String(), "(clients);") {
		t.Fatalf("table:\n%s", out.String())
	}
	f, err := os.Open(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ops, err := history.Read(f)
	if err != nil || len(ops) != 400 {
		t.Fatalf("history: %d operations, %v", len(ops), err)
	}
	js, err := os.Open(filepath.Join(dir, "stats.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer js.Close()
	s, err := benchmark.ReadSummaryJSON(js)
	if err != nil || s.Overall.Ops != 400 || len(s.Zones) != 2 || s.Zones[1].Zone != 2 {
		t.Fatalf("stats.json: %+v %v", s, err)
	}
	for _, tt := range []struct{ in, out string }{{"latency.csv", "cdf.svg"}, {"stats.csv", "zones.png"}} {
		errb.Reset()
		png := filepath.Join(dir, tt.out)
		// Flags after the files, as in "paxi plot results/*.csv -o fig.png".
		if code := run([]string{"plot", filepath.Join(dir, tt.in), "-o", png}, &out, &errb); code != 0 {
			t.Fatalf("paxi plot exited %d: %s", code, errb.String())
		}
		if fi, err := os.Stat(png); err != nil || fi.Size() < 1000 {
			t.Fatalf("%s: %v", png, err)
		}
	}
}

// The README's main command with a sweep: a local cluster, two levels, a
// CSV and a PNG.
func TestLocalSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	dir := t.TempDir()
	var out, errb bytes.Buffer
	args := append([]string{"local", "-sweep", "-levels", "1,4", "-T", "300ms", "-o", dir},
		localPorts(t, 3)...)
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("paxi local -sweep exited %d: %s", code, errb.String())
	}
	t.Log(out.String())
	if !strings.Contains(out.String(), "<- knee") || !strings.Contains(out.String(), "paxos") {
		t.Fatalf("no sweep table:\n%s", out.String())
	}
	f, err := os.Open(filepath.Join(dir, "sweep.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pts, err := benchmark.ReadSweepCSV(f)
	if err != nil || len(pts) != 2 || pts[1].Concurrency != 4 || pts[0].Summary.Overall.Ops == 0 {
		t.Fatalf("sweep.csv: %+v %v", pts, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "sweep.png")); err != nil || fi.Size() < 1000 {
		t.Fatalf("sweep.png: %v", err)
	}
}

func TestParseInterspersed(t *testing.T) {
	fs := newFlagSet("x", "", &bytes.Buffer{})
	o := fs.String("o", "", "")
	v := fs.Bool("v", false, "")
	pos, err := parseInterspersed(fs, []string{"a", "-o", "f.png", "b", "-v", "--", "-c"})
	if err != nil || *o != "f.png" || !*v || strings.Join(pos, " ") != "a b -c" {
		t.Fatalf("%v %q %v %v", pos, *o, *v, err)
	}
}
