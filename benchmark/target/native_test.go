package target

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/benchmark"
	"github.com/ailidani/paxi-style/floor"
	"github.com/ailidani/paxi-style/history"
	"github.com/ailidani/paxi-style/paxi"
)

// The native adapter over three connections to the floor: every read sees
// the last write of its key, misses are misses, and a dead server is an
// error.
func TestNative(t *testing.T) {
	fl, err := floor.Start(paxi.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	db, err := NewNative(fl.NativeAddr, "bench-n", 3, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := benchmark.DefaultConfig()
	cfg.T, cfg.N, cfg.K, cfg.Concurrency = 0, 300, 10, 1
	res, err := benchmark.Run(context.Background(), benchmark.Options{Config: cfg, KeepValues: true,
		Target: func(int) (benchmark.Target, error) { return benchmark.Target{Zone: 1, Node: "floor", DB: db}, nil }})
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
	reads, misses := 0, 0
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
		} else {
			misses++
		}
	}
	if len(ops) != 300 || reads == 0 || misses == 0 {
		t.Fatalf("%d operations, %d reads of written keys, %d misses", len(ops), reads, misses)
	}
	st, _ := fl.Backend.Status(context.Background())
	if st.Applied != 300 {
		t.Fatalf("the floor applied %d commands, want 300", st.Applied)
	}
	fl.Close()
	if _, _, err := db.Read(context.Background(), 1); err == nil {
		t.Fatal("read from a closed server succeeded")
	}
}

func TestNewClient(t *testing.T) {
	if db, err := NewClient(ClientREST, "http://127.0.0.1:1", "", "c", 1, time.Second); err != nil {
		t.Fatalf("rest: %v", err)
	} else if _, ok := db.(*PaxiDB); !ok {
		t.Fatalf("rest: %T", db)
	}
	if _, err := NewClient("grpc", "http://x:1", "", "c", 1, 0); err == nil || !strings.Contains(err.Error(), `"native"`) {
		t.Fatalf("unknown client: %v", err)
	}
	if _, err := NewClient(ClientNative, "http://x:65000", "", "c", 1, 0); err == nil {
		t.Fatal("native with no possible native port succeeded")
	}
	if _, err := NewClient(ClientNative, "http://127.0.0.1:1", "", "c", 1, time.Second); err == nil {
		t.Fatal("native with nobody listening succeeded")
	}
}
