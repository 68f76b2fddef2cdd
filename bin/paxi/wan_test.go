package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ailidani/paxi-style/paxi"
)

func TestProtocolSpecs(t *testing.T) {
	specs, err := parseProtocolSpecs("paxos, fpaxos:quorum.system=count;quorum.q1=4;quorum.q2=2")
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 || specs[0].name != "paxos" || specs[1].name != "fpaxos" || len(specs[1].settings) != 3 {
		t.Fatalf("specs %+v", specs)
	}
	cfg := paxi.DefaultConfig()
	cfg.SetLocal(5, 1, 1735, 8081)
	got, err := specs[1].apply(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Protocol != "fpaxos" || got.Quorum.Q1 != 4 || got.Quorum.Q2 != 2 || got.Quorum.System != "count" {
		t.Fatalf("settings not applied: protocol %q, quorum %+v", got.Protocol, got.Quorum)
	}
	if len(got.IDs()) != 5 {
		t.Fatalf("applying settings lost the node list: %v", got.IDs())
	}

	for _, bad := range []struct{ spec, want string }{
		{"nosuch", "nosuch"},
		{"paxos:pipeline", "want path=value"},
		{"", "no protocol"},
	} {
		if _, err := parseProtocolSpecs(bad.spec); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want one mentioning %q", bad.spec, err, bad.want)
		}
	}
	// A setting the configuration does not know is the parser's error.
	sp, _ := parseProtocolSpecs("paxos:nosuchfield=1")
	if _, err := sp[0].apply(paxi.DefaultConfig()); err == nil || !strings.Contains(err.Error(), "nosuchfield") {
		t.Errorf("unknown setting: error %v, want one naming it", err)
	}
}

func TestWANBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-experiment", "other"},
		{"-conflicts", "0,150"},
		{"-per-zone", "0"},
		{"-protocols", "nosuch"},
		{"-c", "0"},
	} {
		var out, errb bytes.Buffer
		if code := run(append([]string{"wan"}, args...), &out, &errb); code == 0 {
			t.Errorf("paxi wan %v exited 0", args)
		}
	}
}

// A small conflict experiment on the WAN: every region gets a row per
// level, the latencies reflect the emulated distances, and the plots are
// written.
func TestWANConflict(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 5-region clusters with WAN delays")
	}
	dir := t.TempDir()
	var out, errb bytes.Buffer
	args := []string{"wan", "-protocols", "paxos", "-conflicts", "0,100", "-per-zone", "1", "-c", "1",
		"-K", "5", "-T", "1s", "-port", "26100", "-http-port", "26200", "-o", dir}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("paxi wan exited %d: %s", code, errb.String())
	}
	t.Log(out.String())
	f, err := os.Open(filepath.Join(dir, "conflict.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+2*6 {
		t.Fatalf("%d CSV rows, want a header and 2 levels x (all + 5 regions)", len(recs))
	}
	for _, r := range recs[1:] {
		if r[5] != "0" || r[4] == "0" {
			t.Errorf("row %v: want operations and no errors", r)
		}
	}
	for _, name := range []string{"conflict-all.png", "conflict-ohio.png", "conflict-japan.png"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() < 1000 {
			t.Errorf("%s: %v", name, err)
		}
	}
}
