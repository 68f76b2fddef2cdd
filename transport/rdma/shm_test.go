package rdma_test

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport/rdma"
	"github.com/ailidani/paxi-style/transport/rdma/rdmatest"
)

// shmDir is a fresh directory for one test's shm files: under /dev/shm
// where there is one (the backend's home), removed when the test ends.
func shmDir(t testing.TB) string {
	t.Helper()
	base := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		base = "/dev/shm"
	}
	if base == "" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp(base, "paxi-rdma-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// shmHosts is a shm cluster whose hosts all live in this process, each
// with its own mappings of the others' files, as separate processes
// would have.
type shmHosts struct {
	c     rdma.ShmConfig
	mu    sync.Mutex
	devs  map[paxi.ID]*rdma.ShmDevice
	hosts map[paxi.ID]rdma.Host
}

func (s *shmHosts) Attach(id paxi.ID, h rdma.Host) rdma.Device {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hosts[id] = h
	d, err := rdma.OpenShm(s.c, id, h)
	if err != nil {
		panic(fmt.Sprintf("open shm host %v: %v", id, err))
	}
	s.devs[id] = d
	return d
}

func (s *shmHosts) Device(id paxi.ID) rdma.Device {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.devs[id]; d != nil {
		return d
	}
	return nil
}

func (s *shmHosts) Crash(id paxi.ID) {
	s.mu.Lock()
	d := s.devs[id]
	delete(s.devs, id)
	s.mu.Unlock()
	if d != nil {
		d.Close()
	}
}

func (s *shmHosts) Restart(id paxi.ID) rdma.Device {
	s.mu.Lock()
	h := s.hosts[id]
	s.mu.Unlock()
	return s.Attach(id, h)
}

func (s *shmHosts) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, d := range s.devs {
		d.Close()
		delete(s.devs, id)
	}
	return nil
}

// TwoSided: the shm backend has no SEND or WRITE_WITH_IMM.
func (s *shmHosts) TwoSided() bool { return false }

// shmNet builds shm clusters of in-process hosts for the suite.
func shmNet(t *testing.T) rdmatest.Factory {
	n := 0
	return func(hosts int, o rdma.Options) (rdmatest.Net, error) {
		n++
		var ids []paxi.ID
		for i := 1; i <= hosts; i++ {
			ids = append(ids, paxi.NewID(1, i))
		}
		s := &shmHosts{c: rdma.ShmConfig{Dir: shmDir(t), Cluster: fmt.Sprintf("suite%d", n), Hosts: ids, Options: realTimeCosts(o)},
			devs: map[paxi.ID]*rdma.ShmDevice{}, hosts: map[paxi.ID]rdma.Host{}}
		t.Cleanup(func() { s.Close() })
		return rdmatest.RealTime(s, hosts), nil
	}
}

// The shm backend passes the conformance suite (but for the two-sided
// verbs it does not offer), with every host in this process.
func TestShmConformance(t *testing.T) { rdmatest.Run(t, shmNet(t)) }
