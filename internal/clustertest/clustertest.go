// Package clustertest holds test helpers that drive a running cluster
// through its REST API: a write load that records which writes were
// acknowledged, and the check that none of them was lost.
package clustertest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/client"
)

// Load is a set of clients writing distinct values to a few keys.
type Load struct {
	mu     sync.Mutex
	acked  map[string]map[string]bool // key -> values acknowledged
	failed int
	stop   chan struct{}
	wg     sync.WaitGroup
}

// StartLoad starts clients that write through the given REST base URLs
// (client i uses urls[i%len(urls)]) until Stop. Each write is a distinct
// value, so histories show exactly which writes took effect.
func StartLoad(urls []string, clients, keys int) *Load {
	l := &Load{acked: map[string]map[string]bool{}, stop: make(chan struct{})}
	for i := range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			cl := client.NewREST(urls[i%len(urls)], fmt.Sprintf("load-%d", i), 3*time.Second)
			for j := 0; ; j++ {
				select {
				case <-l.stop:
					return
				default:
				}
				key := fmt.Sprint("k", j%keys)
				val := fmt.Sprintf("c%d-%d", i, j)
				_, err := cl.Put(context.Background(), key, []byte(val))
				l.mu.Lock()
				if err == nil {
					if l.acked[key] == nil {
						l.acked[key] = map[string]bool{}
					}
					l.acked[key][val] = true
				} else {
					l.failed++
				}
				l.mu.Unlock()
				if err != nil {
					time.Sleep(10 * time.Millisecond) // do not spin on a dead node
				}
			}
		}()
	}
	return l
}

// Stop stops the clients and waits for their last requests.
func (l *Load) Stop() {
	close(l.stop)
	l.wg.Wait()
}

// Acked returns how many writes were acknowledged so far.
func (l *Load) Acked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, vs := range l.acked {
		n += len(vs)
	}
	return n
}

// CheckAcked fails the test unless every acknowledged write is in the
// history of its key at every given node, and those histories are identical
// at all of them. Call it after Stop; it gives followers a moment to learn
// the last commits.
func CheckAcked(t testing.TB, urls []string, l *Load) {
	t.Helper()
	ctx := context.Background()
	time.Sleep(300 * time.Millisecond)
	keys := make([]string, 0, len(l.acked))
	for k := range l.acked {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		var ref []string
		for i, u := range urls {
			h, err := client.NewREST(u, "", 5*time.Second).History(ctx, key)
			if err != nil {
				t.Fatalf("history of %s at %s: %v", key, u, err)
			}
			got := make([]string, len(h))
			for j, v := range h {
				got[j] = string(v)
			}
			if i == 0 {
				ref = got
			} else if !slices.Equal(got, ref) {
				t.Errorf("key %s: history at %s differs from %s:\n%v\n%v", key, u, urls[0], got, ref)
			}
			for v := range l.acked[key] {
				if !slices.Contains(got, v) {
					t.Errorf("key %s: acknowledged write %q missing at %s", key, v, u)
				}
			}
		}
	}
	n := l.Acked()
	t.Logf("%d acknowledged writes (%d requests failed): all present, in the same order, at %v", n, l.failed, urls)
	if n == 0 {
		t.Fatal("no write was acknowledged")
	}
}
