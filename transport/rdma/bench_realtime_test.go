package rdma_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// benchWrite64 measures the round trip of a signaled 64-byte inline WRITE
// from a's queue pair to b's region, posted one at a time: from Post to
// the completion reaching the requester's goroutine. It reports the median
// and p99 in microseconds: emulation timings (the model's ≈1.25 µs plus
// the pacer's and the scheduler's noise), not hardware ones.
func benchWrite64(b *testing.B, da, db rdma.Device, msgs chanHost, peerMsgs chanHost) {
	mr, err := db.Register(4096, rdma.RemoteAll)
	if err != nil {
		b.Fatal(err)
	}
	qa, _ := da.QP(db.ID(), 0)
	qb, _ := db.QP(da.ID(), 0)
	qa.Connect(rdma.RemoteAll)
	qb.Connect(rdma.RemoteAll)
	for _, c := range []chanHost{msgs, peerMsgs} {
		await(b, c, 10*time.Second, "Connected", func(m paxi.Message) bool { e, ok := m.(rdma.Event); return ok && e.Kind == rdma.Connected })
	}
	payload := make([]byte, 64)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if err := qa.Post(rdma.WR{ID: uint64(i), Op: rdma.Write, Local: payload, RKey: mr.RKey(), Signaled: true, Inline: true}); err != nil {
			b.Fatal(err)
		}
		wc := (<-msgs).(rdma.WC)
		lat = append(lat, time.Since(start))
		if wc.Status != rdma.Success {
			b.Fatal(wc)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2])/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100])/1e3, "p99-µs")
}

// BenchmarkMemWrite64: the mem backend, two hosts of one process.
func BenchmarkMemWrite64(b *testing.B) {
	m, err := rdma.NewMem(rdma.DefaultOptions(1))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ma, mb := make(chanHost, 1024), make(chanHost, 1024)
	benchWrite64(b, m.Attach(paxi.NewID(1, 1), ma), m.Attach(paxi.NewID(1, 2), mb), ma, mb)
}

// BenchmarkShmWrite64: the shm backend, two hosts in this process, each
// with its own mappings (placement through the peer's files, lock word
// and doorbell as across processes).
func BenchmarkShmWrite64(b *testing.B) {
	dir := shmDir(b)
	ids := []paxi.ID{paxi.NewID(1, 1), paxi.NewID(1, 2)}
	c := rdma.ShmConfig{Dir: dir, Cluster: "bench", Hosts: ids, Options: rdma.DefaultOptions(1)}
	ma, mb := make(chanHost, 1024), make(chanHost, 1024)
	da, err := rdma.OpenShm(c, ids[0], ma)
	if err != nil {
		b.Fatal(err)
	}
	defer da.Close()
	db, err := rdma.OpenShm(c, ids[1], mb)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	benchWrite64(b, da, db, ma, mb)
}
