package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ailidani/paxi-style/benchmark/target"
	"github.com/ailidani/paxi-style/client"
	"github.com/ailidani/paxi-style/internal/cputime"
)

// cpuSample is the CPU time used so far by this process and by the node
// processes behind a benchmark's endpoints, read from their /status.
type cpuSample struct {
	at    time.Time
	self  time.Duration
	nodes map[string]client.Status // endpoint name -> status (PID, CPUSeconds)
}

// sampleCPU reads this process's CPU time and, for paxi-style endpoints,
// each node's. A node that does not answer within a second, or does not
// report its CPU, is left out: the figures are for the report, never a
// reason to fail a benchmark.
func (e *benchEnv) sampleCPU(ctx context.Context) cpuSample {
	s := cpuSample{nodes: map[string]client.Status{}}
	if e.bf.target == target.Paxi {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, ep := range e.eps {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				st, err := client.NewREST(ep.url, "", time.Second).Status(ctx)
				if err != nil || st.CPUSeconds == 0 || st.PID == 0 {
					return
				}
				mu.Lock()
				s.nodes[ep.name] = st
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	s.self, _ = cputime.Process()
	s.at = time.Now()
	return s
}

// cpuUsage is how busy the processes were between two samples.
type cpuUsage struct {
	wall time.Duration
	// self is this process: the clients, and any nodes running inside it.
	self time.Duration
	// inSelf names the nodes that run inside this process.
	inSelf []string
	// others are the node processes, one entry per process.
	others []procCPU
}

// procCPU is one node process's CPU time over the run.
type procCPU struct {
	names []string
	pid   int
	cpu   time.Duration
}

// usage is the CPU used between s (before the run) and after.
func (s cpuSample) usage(after cpuSample) cpuUsage {
	u := cpuUsage{wall: after.at.Sub(s.at), self: after.self - s.self}
	names := make([]string, 0, len(after.nodes))
	for n := range after.nodes {
		names = append(names, n)
	}
	slices.Sort(names)
	index := map[int]int{} // pid -> index in u.others
	for _, n := range names {
		a := after.nodes[n]
		b, ok := s.nodes[n]
		switch {
		case !ok || a.PID != b.PID:
			continue // unreachable before, or restarted: no meaningful difference
		case a.PID == os.Getpid():
			u.inSelf = append(u.inSelf, n)
			continue
		}
		i, ok := index[a.PID]
		if !ok {
			i = len(u.others)
			index[a.PID] = i
			u.others = append(u.others, procCPU{pid: a.PID, cpu: time.Duration((a.CPUSeconds - b.CPUSeconds) * float64(time.Second))})
		}
		u.others[i].names = append(u.others[i].names, n)
	}
	return u
}

// total is the CPU time of every process measured.
func (u cpuUsage) total() time.Duration {
	t := u.self
	for _, p := range u.others {
		t += p.cpu
	}
	return t
}

// cores is the average number of cores all measured processes kept busy.
func (u cpuUsage) cores() float64 { return cputime.Cores(u.total(), u.wall) }

// perOp is the CPU time spent per successful operation, over all measured
// processes.
func (u cpuUsage) perOp(ops int) time.Duration {
	if ops <= 0 {
		return 0
	}
	return u.total() / time.Duration(ops)
}

// String describes the usage on one line, e.g.
// "cpu: 1.62 cores: this process 0.71 (clients), 1.1 0.52, 1.2 0.20, 1.3 0.19".
func (u cpuUsage) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cpu: %.2f cores: this process %.2f", u.cores(), cputime.Cores(u.self, u.wall))
	if len(u.inSelf) > 0 {
		fmt.Fprintf(&b, " (clients and nodes %s)", strings.Join(u.inSelf, ", "))
	} else {
		b.WriteString(" (clients)")
	}
	for _, p := range u.others {
		fmt.Fprintf(&b, ", %s %.2f", strings.Join(p.names, "+"), cputime.Cores(p.cpu, u.wall))
	}
	return b.String()
}
