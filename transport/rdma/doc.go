// Package rdma emulates RDMA verbs (reliable-connected queue pairs, memory
// regions, one-sided WRITE/READ/CAS/FAA, two-sided SEND/RECV) for protocols
// whose speed comes from one-sided RDMA, such as APUS and Mu, on machines
// without RDMA hardware. The semantics, latency model and test checklist
// are those of PROTOCOLS.md §10.
//
// # How a protocol uses it
//
// RDMA is an optional capability of paxi.Env. A protocol's Factory calls
// From(env), which returns the node's Device or an error wrapping
// ErrNoRDMA to fail fast with. With the Device it registers memory
// (Register → MR, keys in registration order), gets its ends of queue
// pairs (QP(peer, channel)), connects them (Connect(rights), announced by
// an Event), and posts work requests (QP.Post). Everything that happens
// later arrives in Replica.Step, with from = the node itself, like a timer:
//
//   - WC: a work completion, for every signaled request, every failed or
//     flushed one, and every consumed receive buffer;
//   - Changed: a remote operation changed a watched range of one of the
//     node's regions (MR.Watch);
//   - Event: a modelled slow operation finished (Connected, AccessChanged,
//     Reregistered) or a peer's violation put a queue pair in Err
//     (QPFatal).
//
// There are no channels and no callbacks: completions are messages on the
// replica's own goroutine, so a protocol stays a deterministic state
// machine. The region's owner reads and writes it through MR methods, not
// a slice, so that backends sharing memory across processes can keep their
// locks.
//
// Local polling is a watch rather than a timer loop because spinning at
// microsecond periods in virtual time would be millions of timer events per
// simulated second; a watch delivers the same observation (the state of the
// memory PollDetect after a change) with one event, and a protocol that
// prefers periodic scans can still use Env.After and read the region.
//
// # Semantics (PROTOCOLS.md §10.2)
//
//   - An operation is checked once, at its placement instant, against the
//     region's key, bounds and rights and the responder queue pair's
//     rights: RemoteAccessErr (or RemoteInvalidReq for a misaligned atomic
//     or a SEND too large for the receive buffer) and nothing placed.
//     Rights changes (QP.SetRemoteAccess, MR.Reregister, QP.Reset) take
//     effect at one instant after their modelled cost: operations placed
//     before succeed, after fail; a write is never half accepted.
//   - The first failure puts the requester's queue pair in Err when it
//     completes, and every later request on it completes with FlushErr
//     (errors always complete, signaled or not) until Reset and Connect.
//     By default the responder's end goes to Err too and gets QPFatal
//     (Options.KeepResponderOnAccessErr turns that off).
//   - Per queue pair, operations are placed and complete in post order; a
//     READ or atomic after a WRITE on the same queue pair sees it. Queue
//     pairs are independent: their latencies are drawn separately.
//   - Writes land in 64-byte aligned chunks (ChunkSize): in address order
//     (InorderChunks, the default), in random order over a tear window
//     (RandomChunks, adversarial) or at once (Whole). Aligned 8-byte words
//     are single-copy atomic. CAS and FAA are atomic with respect to each
//     other only, and queue per address at the responder.
//   - A host that crashes loses its memory and queue pairs: operations to
//     it fail with RetryExceeded after the RC timeout (Profile.RCTimeout),
//     and it comes back with a new Device that peers must reconnect to
//     (each end of a connection remembers the other's incarnation). A
//     paused process is different: its NIC keeps serving one-sided
//     operations; only its replica stops stepping, and its completions and
//     notifications wait for it.
//   - Unsignaled requests hold their send-queue slots until a later
//     signaled request on the queue pair completes; Post fails with
//     ErrSendQueueFull rather than overflow the queue.
//
// # Latency model (PROTOCOLS.md §10.3)
//
// Profile holds the parameters; CX5EDR1Switch ("cx5-edr-1switch", the
// default: ≈1.25 µs for a 64-byte WRITE round trip) and TCPDC ("tcp-dc",
// kernel TCP in a rack, for contrast) are built in. Jitter is log-normal
// from the fabric's seeded source, so a run is a function of its seed.
//
// # Backends
//
// The package is split so that a backend supplies only a clock and memory:
//
//   - core.go, the verbs core: validation of work requests, the remote
//     access check, the chunk plan of a write, atomics on a word. Every
//     backend calls it the same way.
//   - The sim backend (Fabric, on a Scheduler: the simulator's event queue
//     or Loop) decides when things happen from the Profile, in virtual
//     time, deterministically. sim.Network.RDMA gives every simulated node
//     a device on one Fabric.
//
// Two real-time backends run behind the same Device/MR/QP interfaces and
// pass the same conformance suite (package rdmatest):
//
//   - mem (Mem, mem.go): one process. The sim backend's Fabric on a
//     pacer (realtime.go), an event queue that runs each event once the
//     monotonic clock reaches its instant, under one spin lock that every
//     verb and MR access also takes. The node runtime shares one Mem
//     between the nodes of a process (`paxi local`).
//   - shm (OpenShm, shm.go): several processes on one machine. Each
//     host's regions and its NIC table are files in /dev/shm mapped
//     shared; requesters place under the responder entry's lock word and
//     the owner changes rights under it, so revocation is atomic across
//     processes; owners learn of remote writes and violations from a
//     doorbell (futex) their poller sleeps on. No SEND/RECV.
//
// Real-time timings are emulation timings: the model's delays plus the
// scheduler's noise (BenchmarkMemWrite64, BenchmarkShmWrite64).
package rdma
