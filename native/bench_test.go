package native_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/floor"
	"github.com/ailidani/paxi-style/native"
	"github.com/ailidani/paxi-style/paxi"
)

// BenchmarkFloor compares the two client paths against the floor (a bare
// store behind the REST handler and behind the native server, in this
// process): 50 % puts of 64 bytes over 1000 keys, with 1 client and with 64
// concurrent clients (all native clients share one connection, as a
// benchmark's clients at one node do). It reports ops/s; ns/op is the
// inverse over all clients.
//
//	go test ./native -run XXX -bench Floor -benchtime 3s
func BenchmarkFloor(b *testing.B) {
	cfg := paxi.DefaultConfig()
	fl, err := floor.Start(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer fl.Close()
	rest := client.NewREST(fl.RESTURL, "bench-rest", 10*time.Second)
	nc, err := native.Dial(fl.NativeAddr, "bench-native", native.ClientOptions{Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	type kv interface {
		Get(ctx context.Context, key string) (client.Response, error)
		Put(ctx context.Context, key string, value []byte) (client.Response, error)
	}
	for _, c := range []struct {
		name string
		kv   kv
	}{{"rest", rest}, {"native", nc}} {
		for _, clients := range []int{1, 64} {
			b.Run(c.name+"/c"+strconv.Itoa(clients), func(b *testing.B) {
				var seq atomic.Uint64
				value := make([]byte, 64)
				ctx := context.Background()
				b.SetParallelism((clients + 1) / 2) // GOMAXPROCS is 2 here
				if clients == 1 {
					b.SetParallelism(1)
				}
				b.ReportAllocs()
				b.ResetTimer()
				op := func(i uint64) error {
					key := strconv.FormatUint(i*7919%1000, 10)
					var err error
					if i%2 == 0 {
						_, err = c.kv.Put(ctx, key, value)
					} else if _, err = c.kv.Get(ctx, key); err == client.ErrNotFound {
						err = nil
					}
					return err
				}
				if clients == 1 {
					for i := 0; b.Loop(); i++ {
						if err := op(uint64(i)); err != nil {
							b.Fatal(err)
						}
					}
				} else {
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := op(seq.Add(1)); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
			})
		}
	}
}
