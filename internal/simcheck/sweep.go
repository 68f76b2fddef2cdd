package simcheck

import (
	"runtime"
	"sync"
)

// Seeds lists the seeds of a sweep: just only, when it is not 0 (replaying
// one seed), or else n seeds from first.
func Seeds(only, first uint64, n int) []uint64 {
	if only != 0 {
		return []uint64{only}
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = first + uint64(i)
	}
	return out
}

// Parallel calls f(i) for every i < n on up to workers goroutines (0: one
// per processor) and returns when all calls have: seeds are independent,
// so a sweep uses every core. f writes its result into a slot of its own.
func Parallel(n, workers int, f func(i int)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
