package main

import (
	"bytes"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/floor"
	"github.com/ailidani/paxi-style/native"
	"github.com/ailidani/paxi-style/paxi"
)

// paxi floor prints one row per client path.
func TestFloorCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"floor", "-N", "400", "-c", "4"}, &out, &errb); code != 0 {
		t.Fatalf("paxi floor exited %d: %s", code, errb.String())
	}
	t.Log(out.String())
	for _, want := range []string{"floor-rest", "floor-native", "ops/s", "of_floor"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("no %q in\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "first error") {
		t.Fatalf("errors:\n%s", out.String())
	}
}

// paxi floor -cluster also measures a running system (here a second
// floor standing in for a cluster, with its native server at the REST port
// + 1000) and prints its ratio to the floor of the same client path.
func TestFloorWithCluster(t *testing.T) {
	be := floor.NewBackend()
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + hl.Addr().String()
	hs := &http.Server{Handler: client.NewServer(be, paxi.DefaultConfig(), nil)}
	go hs.Serve(hl)
	defer hs.Close()
	addr, err := native.AddrFor(url)
	if err != nil {
		t.Skip(err)
	}
	ns := native.NewServer(be, nil, native.ServerOptions{})
	if _, err := ns.Start(addr); err != nil {
		t.Skipf("the native port of %s is taken: %v", url, err)
	}
	defer ns.Close()

	var out, errb bytes.Buffer
	args := []string{"floor", "-N", "300", "-c", "4", "-cluster", "-client", "native", "-endpoints", url, "-label", "standin"}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("paxi floor -cluster exited %d: %s", code, errb.String())
	}
	t.Log(out.String())
	var row, cpu string
	for _, l := range strings.Split(out.String(), "\n") {
		switch {
		case strings.HasPrefix(l, "standin "):
			row = l
		case strings.HasPrefix(l, "standin: cpu: "):
			cpu = l
		}
	}
	f := strings.Fields(row)
	if len(f) != 11 || f[1] != "native" || f[10] == "-" {
		t.Fatalf("cluster row %q: want the native client, CPU figures and a ratio", row)
	}
	// The stand-in serves from this process, so its CPU is this process's.
	if !strings.Contains(cpu, "this process") || !strings.Contains(cpu, "clients and nodes") {
		t.Fatalf("cluster CPU line %q: want this process's usage, with the stand-in node in it", cpu)
	}
	st, _ := be.Status(t.Context())
	if st.Applied != 300 {
		t.Fatalf("the stand-in applied %d commands, want 300", st.Applied)
	}
}

// paxi local -client native starts native servers next to the nodes and
// benchmarks through them.
func TestLocalNative(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	var out, errb bytes.Buffer
	args := append([]string{"local", "-client", "native", "-N", "300", "-c", "8"},
		localPorts(t, 3)...)
	start := time.Now()
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("paxi local -client native exited %d: %s", code, errb.String())
	}
	t.Logf("%v\n%s%s", time.Since(start), errb.String(), out.String())
	if !strings.Contains(out.String(), "paxos-native") || !strings.Contains(errb.String(), "native protocol at") {
		t.Fatalf("no native result:\n%s", out.String())
	}
	if strings.Contains(out.String(), "first error") {
		t.Fatalf("errors:\n%s", out.String())
	}
}

func TestBadClientFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bench", "-client", "grpc"}, `-client "grpc": must be one of rest, native`},
		{[]string{"bench", "-client", "native", "-target", "etcd"}, "only -target paxi nodes speak the native protocol"},
		{[]string{"sweep", "-client", "udp"}, `-client "udp"`},
		{[]string{"local", "-client", "x"}, `-client "x"`},
		{[]string{"floor", "-client", "native"}, "add -cluster"},
		{[]string{"floor", "-endpoints", "http://h:1"}, "add -cluster"},
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
