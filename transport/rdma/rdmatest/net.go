// Package rdmatest is the conformance suite of the rdma backends: the
// checklist of PROTOCOLS.md §10.6 as tests that any backend runs through a
// Net, a small harness that gives each host's "replica" a handler instead
// of a protocol. Sim is the Net of the deterministic sim backend; the
// real-time backends (mem, shm) will each provide one and call Run.
package rdmatest

import (
	"fmt"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// Net is a fabric of hosts under test.
type Net interface {
	// IDs are the hosts, sorted.
	IDs() []paxi.ID
	// Device is a host's current device (nil while crashed).
	Device(id paxi.ID) rdma.Device
	// Handle sets the function a host's replica runs on each message the
	// device delivers (WC, Changed, Event), in delivery order, on the
	// replica's goroutine: it may post work. The messages are recorded in
	// Inbox either way.
	Handle(id paxi.ID, f func(m paxi.Message))
	// Inbox returns every message delivered to a host so far.
	Inbox(id paxi.ID) []paxi.Message
	// Now is the time since the net started (virtual or real).
	Now() time.Duration
	// RunUntil lets the net run until cond holds or limit has passed, and
	// reports whether cond held. Conditions and handlers never run at the
	// same time.
	RunUntil(cond func() bool, limit time.Duration) bool
	// Pause stops (true) or resumes a host's replica; its NIC keeps
	// serving. Messages wait for it.
	Pause(id paxi.ID, paused bool)
	// Crash takes a host down (memory gone); Restart brings it back with a
	// new device.
	Crash(id paxi.ID)
	Restart(id paxi.ID)
	// Deterministic reports whether the same options give the same run
	// (the sim backend); the determinism check runs only then.
	Deterministic() bool
}

// Factory builds a Net of n hosts with options o.
type Factory func(n int, o rdma.Options) (Net, error)

// simNet is the sim backend on its own event loop.
type simNet struct {
	loop    rdma.Loop
	f       *rdma.Fabric
	ids     []paxi.ID
	handler map[paxi.ID]func(paxi.Message)
	inbox   map[paxi.ID][]paxi.Message
	paused  map[paxi.ID]bool
	held    map[paxi.ID][]paxi.Message
}

// Sim is the Factory of the sim backend, on an rdma.Loop.
func Sim(n int, o rdma.Options) (Net, error) {
	s := &simNet{handler: map[paxi.ID]func(paxi.Message){}, inbox: map[paxi.ID][]paxi.Message{},
		paused: map[paxi.ID]bool{}, held: map[paxi.ID][]paxi.Message{}}
	f, err := rdma.NewFabric(&s.loop, o)
	if err != nil {
		return nil, err
	}
	s.f = f
	for i := 1; i <= n; i++ {
		id := paxi.NewID(1, i)
		s.ids = append(s.ids, id)
		f.Attach(id, simHost{s, id})
	}
	return s, nil
}

type simHost struct {
	s  *simNet
	id paxi.ID
}

func (h simHost) Deliver(m paxi.Message) {
	if h.s.paused[h.id] {
		h.s.held[h.id] = append(h.s.held[h.id], m)
		return
	}
	h.s.step(h.id, m)
}

func (s *simNet) step(id paxi.ID, m paxi.Message) {
	s.inbox[id] = append(s.inbox[id], m)
	if f := s.handler[id]; f != nil {
		f(m)
	}
}

func (s *simNet) IDs() []paxi.ID                               { return s.ids }
func (s *simNet) Device(id paxi.ID) rdma.Device                { return s.f.Device(id) }
func (s *simNet) Handle(id paxi.ID, f func(m paxi.Message))    { s.handler[id] = f }
func (s *simNet) Inbox(id paxi.ID) []paxi.Message              { return s.inbox[id] }
func (s *simNet) Now() time.Duration                           { return s.loop.Now() }
func (s *simNet) RunUntil(c func() bool, l time.Duration) bool { return s.loop.RunUntil(c, l) }
func (s *simNet) Deterministic() bool                          { return true }
func (s *simNet) Crash(id paxi.ID)                             { s.f.Crash(id); s.held[id] = nil }
func (s *simNet) Restart(id paxi.ID)                           { s.f.Restart(id) }

func (s *simNet) Pause(id paxi.ID, paused bool) {
	if paused {
		s.paused[id] = true
		return
	}
	// Resuming is an event, as in the simulator: the replica catches up on
	// the held messages first, in order, on its own turn.
	s.loop.After(0, func() {
		s.paused[id] = false
		held := s.held[id]
		s.held[id] = nil
		for _, m := range held {
			s.step(id, m)
		}
	})
}

// String names the net in failures.
func (s *simNet) String() string { return fmt.Sprintf("sim %v", s.f.Options()) }
