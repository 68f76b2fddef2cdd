package clustertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/history"
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
