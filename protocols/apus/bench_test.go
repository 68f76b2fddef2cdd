package apus

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// replicationLatencies submits n 64-byte puts one after another at the
// leader of a 3-replica cluster (sim backend, default profile) and returns
// the virtual time from each request's arrival at the leader to its reply
// there: append, one-sided WRITE of the entry and of the end word to both
// followers, their poll detecting the end word, their ack WRITEs, the
// leader's poll detecting a majority, commit, apply.
func replicationLatencies(t testing.TB, n int) []time.Duration {
	c := cluster(t, 3, Options{}, 1, rdma.InorderChunks)
	l := awaitLeader(t, c, 0, time.Second)
	awaitStreaming(t, c, l)
	c.RunFor(10 * time.Millisecond)
	value := strings.Repeat("v", 64)
	out := make([]time.Duration, 0, n)
	for i := range n {
		start := c.Now()
		h := c.Submit(l, paxi.Command{Op: paxi.Put, Key: "k", Value: []byte(value), ClientID: "bench", CommandID: uint64(i + 1)})
		reps, ok := c.Await(time.Second, h)
		if !ok || reps[0].Err != "" {
			t.Fatalf("request %d: %v", i, reps[0])
		}
		out = append(out, c.Now()-start)
		c.RunFor(20 * time.Microsecond) // idle between requests: no batching
	}
	slices.Sort(out)
	return out
}

func quantile(d []time.Duration, q float64) time.Duration { return d[int(q*float64(len(d)-1))] }

// The replication latency of a 64-byte request with 3 replicas in the sim
// backend with the default profile is one WRITE round trip plus two
// poll detections: deterministic, so asserted exactly in range.
func TestReplicationLatency(t *testing.T) {
	d := replicationLatencies(t, 500)
	med, p99 := quantile(d, 0.5), quantile(d, 0.99)
	t.Logf("64-byte request, 3 replicas, virtual time: median %v, p99 %v (min %v, max %v)", med, p99, d[0], d[len(d)-1])
	if med < 1200*time.Nanosecond || med > 2500*time.Nanosecond {
		t.Fatalf("median replication latency %v, want about 1.6µs (0.7 µs WRITE placement + 0.1 µs poll, twice)", med)
	}
}

// BenchmarkReplication reports the virtual-time replication latency of a
// 64-byte request, 3 replicas, default profile (median and p99 over b.N
// requests). ns/op is the simulator's wall-clock cost, not the latency.
func BenchmarkReplication(b *testing.B) {
	d := replicationLatencies(b, max(b.N, 100))
	b.ReportMetric(float64(quantile(d, 0.5).Nanoseconds())/1e3, "median-µs")
	b.ReportMetric(float64(quantile(d, 0.99).Nanoseconds())/1e3, "p99-µs")
}

// failover pauses (or crashes) the leader of a 3-replica cluster with the
// artifact's timing and returns the virtual time until another leader
// committed an entry of its term.
func failover(t testing.TB, seed uint64, crash bool) time.Duration {
	c := cluster(t, 3, ArtifactOptions(), seed, rdma.InorderChunks)
	l := awaitLeader(t, c, 0, time.Second)
	awaitStreaming(t, c, l)
	c.RunFor(time.Duration(seed%7) * time.Millisecond) // vary the phase of the heartbeats
	start := c.Now()
	if crash {
		c.Crash(l)
	} else {
		c.SetDown(l, true)
	}
	awaitLeader(t, c, l, time.Second)
	return c.Now() - start
}

// BenchmarkFailover reports the fail-over time in virtual time (artifact
// timing: 1 ms heartbeats, 10 ms election timeout): the median and the
// maximum over b.N seeds, for a paused leader (its NIC keeps serving).
func BenchmarkFailover(b *testing.B) {
	var d []time.Duration
	for i := range max(b.N, 20) {
		d = append(d, failover(b, uint64(i+1), false))
	}
	slices.Sort(d)
	b.ReportMetric(float64(quantile(d, 0.5).Microseconds())/1e3, "median-ms")
	b.ReportMetric(float64(d[len(d)-1].Microseconds())/1e3, "max-ms")
}

// Fail-over is detection (the election timeout, drawn from [10, 20) ms,
// checked every 1 ms heartbeat tick) plus the election and the log-plane
// reconnection (a QP Connect, 0.5 ms), for a paused and a crashed leader.
func TestFailoverTime(t *testing.T) {
	o := ArtifactOptions()
	for _, crash := range []bool{false, true} {
		var d []time.Duration
		for seed := uint64(1); seed <= 10; seed++ {
			d = append(d, failover(t, seed, crash))
		}
		slices.Sort(d)
		t.Logf("crash=%v: fail-over %v .. %v, median %v", crash, d[0], d[len(d)-1], quantile(d, 0.5))
		// Faster than the timeout would be a false suspicion; a split vote
		// costs one more timeout, so the slowest may take up to about three.
		if med := quantile(d, 0.5); d[0] < o.ElectionTimeout || med > 2*o.ElectionTimeout+3*o.Heartbeat || d[len(d)-1] > 4*o.ElectionTimeout {
			t.Fatalf("crash=%v: fail-over in [%v, %v], median %v: want at least %v, median at most %v, all within %v",
				crash, d[0], d[len(d)-1], med, o.ElectionTimeout, 2*o.ElectionTimeout+3*o.Heartbeat, 4*o.ElectionTimeout)
		}
	}
}
