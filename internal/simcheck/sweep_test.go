package simcheck

import (
	"slices"
	"sync/atomic"
	"testing"
)

func TestSeeds(t *testing.T) {
	if got := Seeds(0, 5, 3); !slices.Equal(got, []uint64{5, 6, 7}) {
		t.Errorf("Seeds(0, 5, 3) = %v", got)
	}
	if got := Seeds(42, 5, 3); !slices.Equal(got, []uint64{42}) {
		t.Errorf("Seeds(42, 5, 3) = %v, want the one seed to replay", got)
	}
}

// Every index runs exactly once, on at most the given number of goroutines.
func TestParallel(t *testing.T) {
	const n = 200
	var calls [n]atomic.Int32
	var running, peak atomic.Int32
	Parallel(n, 3, func(i int) {
		r := running.Add(1)
		for {
			p := peak.Load()
			if r <= p || peak.CompareAndSwap(p, r) {
				break
			}
		}
		calls[i].Add(1)
		running.Add(-1)
	})
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Fatalf("index %d ran %d times", i, c)
		}
	}
	if p := peak.Load(); p > 3 {
		t.Fatalf("%d calls at once, want at most 3", p)
	}
	Parallel(0, 0, func(int) { t.Fatal("called with n = 0") })
}
