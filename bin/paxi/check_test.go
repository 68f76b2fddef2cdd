package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/history"
)

// writeHistory writes ops as a JSON-lines history file in a temporary
// directory.
func writeHistory(t *testing.T, ops []history.Operation) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "history.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := history.NewWriter(f)
	for _, o := range ops {
		if err := w.Write(o); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// c1: [put(x,1)] [put(x,2)]
// c2:                       [get(x)=?]
func checkHistory(read string) []history.Operation {
	return []history.Operation{
		{Client: "c1", Kind: history.Put, Key: "x", Input: []byte("1"), Call: 0, Return: 10},
		{Client: "c1", Kind: history.Put, Key: "x", Input: []byte("2"), Call: 20, Return: 30},
		{Client: "c2", Kind: history.Get, Key: "x", Output: []byte(read), Found: true, Call: 40, Return: 50},
	}
}

func TestCheckHistory(t *testing.T) {
	legal := writeHistory(t, checkHistory("2"))
	var out, errb bytes.Buffer
	if code := run([]string{"check", legal}, &out, &errb); code != 0 {
		t.Fatalf("legal history: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "Ok: 3 operations on 1 key") {
		t.Errorf("legal history: %q", out.String())
	}

	illegal := writeHistory(t, checkHistory("1")) // stale
	html := filepath.Join(t.TempDir(), "out.html")
	out.Reset()
	errb.Reset()
	if code := run([]string{"check", "-html", html, illegal}, &out, &errb); code != 1 {
		t.Fatalf("illegal history: exit %d\n%s%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"Illegal", "anomaly #2 c2 get(x)=\"1\"", "stale", "written to " + html} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("illegal history: output lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errb.String(), "not linearizable") {
		t.Errorf("illegal history: stderr %q", errb.String())
	}
	if st, err := os.Stat(html); err != nil || st.Size() == 0 {
		t.Errorf("visualisation not written: %v", err)
	}
}

func TestCheckJepsen(t *testing.T) {
	dir := "../../../shared/testdata/histories/porcupine/jepsen"
	if _, err := os.Stat(dir); err != nil {
		abs, _ := filepath.Abs(dir)
		t.Skipf("no Jepsen logs at %s (the shared repository checked out beside this one)", abs)
	}
	// EXPECTED.tsv: 002 is linearizable, 001 is not.
	for _, tc := range []struct {
		log  string
		code int
	}{{"etcd_002.log", 0}, {"etcd_001.log", 1}} {
		var out, errb bytes.Buffer
		if code := run([]string{"check", "-jepsen", filepath.Join(dir, tc.log)}, &out, &errb); code != tc.code {
			t.Errorf("%s: exit %d, want %d\n%s%s", tc.log, code, tc.code, out.String(), errb.String())
		}
	}
}

// fakeNode serves /history?detail=1 from fixed versions, as a node does.
func fakeNode(t *testing.T, versions map[string][]client.HistoryEntry) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/history" || r.URL.Query().Get("detail") != "1" {
			http.Error(w, "unexpected request "+r.URL.String(), http.StatusNotFound)
			return
		}
		h := versions[r.URL.Query().Get("key")]
		if h == nil {
			h = []client.HistoryEntry{}
		}
		json.NewEncoder(w).Encode(h)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestCheckConsensus(t *testing.T) {
	v1 := client.HistoryEntry{Version: 1, Value: []byte("1"), ClientID: "c1", CommandID: 1}
	v2 := client.HistoryEntry{Version: 2, Value: []byte("2"), ClientID: "c1", CommandID: 2}
	a := fakeNode(t, map[string][]client.HistoryEntry{"x": {v1, v2}})
	b := fakeNode(t, map[string][]client.HistoryEntry{"x": {v1}}) // behind: fine
	c := fakeNode(t, map[string][]client.HistoryEntry{"x": {v2, v1}})
	hist := writeHistory(t, checkHistory("2"))

	var out, errb bytes.Buffer
	if code := run([]string{"check", "-consensus", "-history", hist, a, b}, &out, &errb); code != 0 {
		t.Fatalf("agreeing nodes: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "Ok: 2 replicas, 1 key, 3 versions") {
		t.Errorf("agreeing nodes: %q", out.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"check", "-consensus", "-keys", "x,y", a, b, c}, &out, &errb); code != 1 {
		t.Fatalf("diverging nodes: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "agreement: key \"x\" position 0") || !strings.Contains(out.String(), "validity not checked") {
		t.Errorf("diverging nodes: %q", out.String())
	}
}

func TestCheckBadInvocations(t *testing.T) {
	hist := writeHistory(t, checkHistory("2"))
	for _, args := range [][]string{
		{"check"},
		{"check", hist, hist},
		{"check", "/nonexistent.jsonl"},
		{"check", "-jepsen", hist}, // not a Jepsen log
		{"check", "-jepsen", "-consensus", "http://127.0.0.1:1"},
		{"check", "-keys", "x", hist},
		{"check", "-consensus", "http://127.0.0.1:1"},                 // no keys
		{"check", "-consensus", "-keys", "x"},                         // no nodes
		{"check", "-consensus", "-keys", "x", "-html", "o.html", "u"}, // -html is for histories
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code == 0 {
			t.Errorf("paxi %v succeeded", args)
		} else if errb.Len() == 0 {
			t.Errorf("paxi %v failed without a message", args)
		}
	}
}
