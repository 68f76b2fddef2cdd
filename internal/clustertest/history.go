package clustertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/checker"
	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/history"
	"github.com/ailidani/paxi-style/store"
)

// Recorder is a set of clients doing gets and puts on a few keys through
// REST, recording every operation with wall-clock call and return times for
// the linearizability checker.
type Recorder struct {
	mu   sync.Mutex
	ops  []history.Operation
	stop chan struct{}
	wg   sync.WaitGroup
}

// StartRecorder starts clients (client i uses urls[i%len(urls)]) that run
// until Stop. Writes carry unique values.
func StartRecorder(urls []string, clients, keys int, writeRatio float64, timeout time.Duration) *Recorder {
	r := &Recorder{stop: make(chan struct{})}
	for i := range clients {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			name := fmt.Sprintf("h%d", i)
			url := urls[i%len(urls)]
			cl := client.NewREST(url, name, timeout)
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for j := 0; ; j++ {
				select {
				case <-r.stop:
					return
				default:
				}
				key := "h" + strconv.Itoa(rng.IntN(keys))
				op := history.Operation{Client: name, Key: key, Node: url, Kind: history.Get}
				var res client.Response
				var err error
				op.Call = time.Now().UnixNano()
				if rng.Float64() < writeRatio {
					op.Kind, op.Input = history.Put, []byte(name+"."+strconv.Itoa(j))
					res, err = cl.Put(context.Background(), key, op.Input)
				} else {
					res, err = cl.Get(context.Background(), key)
					if errors.Is(err, client.ErrNotFound) {
						err = nil
					}
					op.Output, op.Found = res.Value, res.Found && err == nil
				}
				op.Return = time.Now().UnixNano()
				if err != nil {
					op.Error = err.Error()
					op.Output, op.Found = nil, false
					time.Sleep(10 * time.Millisecond) // do not spin on a dead node
				}
				r.mu.Lock()
				r.ops = append(r.ops, op)
				r.mu.Unlock()
			}
		}()
	}
	return r
}

// Stop stops the clients and returns the history.
func (r *Recorder) Stop() []history.Operation {
	close(r.stop)
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ops
}

// CheckHistory checks what a Recorder recorded on keys h0 .. h<keys-1>:
// the history is linearizable, and the replicas (name -> REST base URL)
// agree with each other and with it. Call it once the replicas had time to
// learn the last commits.
func CheckHistory(t testing.TB, ops []history.Operation, replicas map[string]string, keys int) {
	t.Helper()
	rep, err := checker.Linearizable(context.Background(), ops, checker.Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("linearizability: %s", rep.String())
	if rep.Verdict != checker.Ok {
		t.Fatal("history not linearizable")
	}
	stores := map[string]map[string][]store.Version{}
	for name, url := range replicas {
		stores[name] = map[string][]store.Version{}
		for k := range keys {
			key := "h" + strconv.Itoa(k)
			h, err := client.NewREST(url, "", 5*time.Second).HistoryDetail(context.Background(), key)
			if err != nil {
				t.Fatalf("history of %s at %s: %v", key, name, err)
			}
			stores[name][key] = h
		}
	}
	cons := checker.Consensus(stores, ops)
	t.Logf("agreement: %s", cons.String())
	if !cons.Ok() {
		t.Fatal("the replicas disagree")
	}
}
