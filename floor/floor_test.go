package floor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/floor"
	"github.com/ailidani/paxi-style/native"
	"github.com/ailidani/paxi-style/paxi"
)

// Both endpoints serve one store: a write over REST is read over the
// native protocol and the other way round.
func TestFloorServesBothPaths(t *testing.T) {
	cfg := paxi.DefaultConfig()
	cfg.MaxBodyBytes = 100
	f, err := floor.Start(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rest := client.NewREST(f.RESTURL, "r", 5*time.Second)
	nc, err := native.Dial(f.NativeAddr, "n", native.ClientOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	if _, err := rest.Put(ctx, "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	r, err := nc.Get(ctx, "a")
	if err != nil || string(r.Value) != "1" || r.Version != 1 || r.Slot != -1 {
		t.Fatalf("native get after REST put: %+v %v", r, err)
	}
	if _, err := nc.Put(ctx, "b", []byte("2")); err != nil {
		t.Fatal(err)
	}
	if r, err := rest.Get(ctx, "b"); err != nil || string(r.Value) != "2" {
		t.Fatalf("REST get after native put: %+v %v", r, err)
	}
	if _, err := nc.Get(ctx, "none"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("native get of a missing key: %v", err)
	}
	// The configured limits apply to both paths.
	var se *native.ServerError
	if _, err := nc.Put(ctx, "big", make([]byte, 101)); !errors.As(err, &se) {
		t.Fatalf("native put over max_body_bytes: %v", err)
	}
	var st *client.StatusError
	if _, err := rest.Put(ctx, "big", make([]byte, 101)); !errors.As(err, &st) || st.Code != 413 {
		t.Fatalf("REST put over max_body_bytes: %v", err)
	}
	s, err := rest.Status(ctx)
	if err != nil || s.Protocol != floor.ProtocolName || s.Applied < 3 || s.Ballot != "" {
		t.Fatalf("status %+v %v", s, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Get(ctx, "a"); err == nil {
		t.Fatal("native get after Close succeeded")
	}
}

func BenchmarkBackendDo(b *testing.B) {
	be := floor.NewBackend()
	ctx := context.Background()
	v := make([]byte, 64)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		op := paxi.Get
		if i%2 == 0 {
			op = paxi.Put
		}
		if _, err := be.Do(ctx, paxi.Command{Op: op, Key: "k", Value: v, ClientID: "c", CommandID: uint64(i)}); err != nil {
			b.Fatal(err)
		}
	}
}
