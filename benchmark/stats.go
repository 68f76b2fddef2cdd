package benchmark

import (
	"fmt"
	"slices"
	"time"
)

// Stats summarises a set of latencies.
type Stats struct {
	Count                               int
	Mean, Min, P50, P95, P99, P999, Max time.Duration
}

// Summarize computes Stats; it sorts ls in place.
func Summarize(ls []time.Duration) Stats {
	if len(ls) == 0 {
		return Stats{}
	}
	slices.Sort(ls)
	var sum time.Duration
	for _, l := range ls {
		sum += l
	}
	return Stats{
		Count: len(ls),
		Mean:  sum / time.Duration(len(ls)),
		Min:   ls[0],
		P50:   Percentile(ls, 0.50),
		P95:   Percentile(ls, 0.95),
		P99:   Percentile(ls, 0.99),
		P999:  Percentile(ls, 0.999),
		Max:   ls[len(ls)-1],
	}
}

// Percentile returns the q-quantile (0 <= q <= 1) of sorted latencies by the
// nearest-rank method.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// String prints the statistics in milliseconds.
func (s Stats) String() string {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return fmt.Sprintf("mean=%.3fms p50=%.3fms p95=%.3fms p99=%.3fms p99.9=%.3fms max=%.3fms",
		ms(s.Mean), ms(s.P50), ms(s.P95), ms(s.P99), ms(s.P999), ms(s.Max))
}
