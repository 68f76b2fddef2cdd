package rdma

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/ailidani/paxi-style/paxi"
)

// The shm backend: real time across processes on one machine.
//
// Each host (node) keeps two kinds of files in a shared-memory directory
// (/dev/shm by default), named by the cluster so that clusters running at
// the same time never meet:
//
//   - <cluster>-<id>.nic, its NIC table: a header (incarnation, process
//     id, down flag, doorbell), one descriptor per registered region (key,
//     size, rights, incarnation, the range remote writes dirtied), and one
//     entry per (requester host, channel) for the responder end of that
//     queue pair: a lock word, the state, the remote rights, and the
//     requester incarnation it is connected to, plus a counter of
//     violations;
//   - <cluster>-<id>-<incarnation>-<rkey>.mr, one per registered region.
//
// Every process maps its own files and, lazily, its peers'. A requester
// executes its one-sided operations itself, on its own pacer at the
// modelled placement instant: it takes the responder entry's lock word
// (a CAS on the shared mapping), checks the entry's state, incarnation and
// rights and the region's descriptor with the core's check, copies the
// chunks in order (8-byte words with atomic stores, so aligned words are
// single-copy atomic and a concurrent reader can see a write torn between
// words), releases the lock and completes after the modelled ack. The
// owner changes rights and state under the same lock word, so a revocation
// is atomic with respect to placement across processes. CAS and FAA are
// 64-bit atomic operations on the mapping.
//
// Connection setup needs no side channel: Connect reads the peer's
// incarnation from its NIC table when the modelled handshake ends (and
// waits, polling the directory, while the peer has no table yet), and the
// responder-side state it writes into its own table is what the peer's
// requests check.
//
// A crashed host is a process that exited (kill -9 included): the kernel
// says its process id is gone, and a host that stopped cleanly sets its
// down flag. Operations to it fail with RetryExceeded after the RC
// timeout. A stopped (SIGSTOP) or slow process is alive: peers keep
// reading and writing its memory, because they do the copying. A host
// that restarts bumps its incarnation in the table, which fails every
// queue pair connected to the old one until it is reconnected.
//
// The owner learns of remote activity by polling, as a real responder
// CPU does: a writer merges the byte range it placed into the region's
// dirty word and rings the host's doorbell (a counter in the table; a
// futex wake if the owner's poller sleeps). The poller wakes, takes the
// dirty ranges and raises Changed for the watches they overlap, and
// raises QPFatal for entries whose violation counter moved. So a Changed
// arrives after the kernel's wake-up latency instead of PollDetect.
//
// Not supported on shm: SEND and WRITE_WITH_IMM (two-sided; they need the
// responder's receive buffers, which live in its process): Post refuses
// them with ErrBadWR. Protocols send two-sided messages over the
// framework's transport instead. The same-address atomic rate cap is not
// modelled across processes.

// Limits of a NIC table.
const (
	shmMaxMR = 64 // regions per host
	shmMaxCh = 8  // channels per peer
)

const (
	shmMagic = 0x70617869_72646d61 // "paxirdma"
	// header words
	hMagic, hInc, hPid, hDown, hDoorbell, hSleeping, hHosts = 0, 1, 2, 3, 4, 5, 6
	hdrWords                                                = 8
	// region descriptor words
	mInc, mSize, mAccess, mDirty = 0, 1, 2, 3
	mrWords                      = 4
	// pair entry words
	pLock, pState, pAccess, pRemoteInc, pFatal = 0, 1, 2, 3, 4
	pairWords                                  = 8
)

// noDirty is an empty dirty range: lo = MaxUint32, hi = 0.
const noDirty = uint64(math.MaxUint32)

// ShmConfig configures one host of a shm cluster.
type ShmConfig struct {
	// Dir is the shared-memory directory; empty means /dev/shm.
	Dir string
	// Cluster names the cluster's files; every host of the cluster must
	// use the same (ClusterName derives one from the configuration).
	Cluster string
	// Hosts are all the hosts of the cluster, in the same order everywhere
	// (sorted IDs): a host's index names its entries in its peers' tables.
	Hosts []paxi.ID
	// Options are the fabric's options; every host should use the same.
	Options Options
}

// ClusterName derives a cluster's file name prefix from its nodes'
// addresses: two clusters that run at the same time on one machine listen
// on different ports, so they get different names.
func ClusterName(addrs map[paxi.ID]string) string {
	h := fnv.New64a()
	for _, id := range paxi.SortIDs(mapIDs(addrs)) {
		fmt.Fprintf(h, "%v=%s;", id, addrs[id])
	}
	return fmt.Sprintf("paxi-%016x", h.Sum64())
}

func mapIDs(m map[paxi.ID]string) []paxi.ID {
	ids := make([]paxi.ID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	return ids
}

// table is a mapped NIC table.
type table struct {
	b     []byte
	w     []uint64
	hosts int
}

func newTable(b []byte) *table {
	return &table{b: b, w: unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), len(b)/8)}
}

func tableSize(hosts int) int { return 8 * (hdrWords + shmMaxMR*mrWords + hosts*shmMaxCh*pairWords) }

func (t *table) word(i int) *uint64 { return &t.w[i] }
func (t *table) hdr(i int) *uint64  { return &t.w[i] }
func (t *table) mr(rkey uint32, f int) *uint64 {
	return &t.w[hdrWords+int(rkey-FirstRKey)*mrWords+f]
}
func (t *table) pair(host, ch, f int) *uint64 {
	return &t.w[hdrWords+shmMaxMR*mrWords+(host*shmMaxCh+ch)*pairWords+f]
}

// lockPair takes the lock word of an entry. Holders keep it for one
// placement or one rights change.
func (t *table) lockPair(host, ch int) {
	w := t.pair(host, ch, pLock)
	for !atomic.CompareAndSwapUint64(w, 0, 1) {
		runtime.Gosched()
	}
}

func (t *table) unlockPair(host, ch int) { atomic.StoreUint64(t.pair(host, ch, pLock), 0) }

// ring tells the table's owner that something changed.
func (t *table) ring() {
	atomic.AddUint64(t.hdr(hDoorbell), 1)
	if atomic.LoadUint64(t.hdr(hSleeping)) != 0 {
		futexWakeWord(t.hdr(hDoorbell))
	}
}

// markDirty merges [lo, hi) into a region's dirty range.
func (t *table) markDirty(rkey uint32, lo, hi int) {
	w := t.mr(rkey, mDirty)
	for {
		old := atomic.LoadUint64(w)
		l, h := min(uint32(old), uint32(lo)), max(uint32(old>>32), uint32(hi))
		if atomic.CompareAndSwapUint64(w, old, uint64(h)<<32|uint64(l)) {
			return
		}
	}
}

// Word-wise access to shared memory: aligned words with atomic loads and
// stores, partial words merged with a CAS, so that no access is a data
// race for the race detector or a torn word for a reader.

func wordAt(mem []byte, off int) *uint64 { return (*uint64)(unsafe.Pointer(&mem[off])) }

func storeBytes(mem []byte, off int, src []byte) {
	for len(src) > 0 {
		base := off &^ 7
		lo := off - base
		n := min(8-lo, len(src))
		w := wordAt(mem, base)
		if lo == 0 && n == 8 {
			atomic.StoreUint64(w, binary.LittleEndian.Uint64(src))
		} else {
			for {
				old := atomic.LoadUint64(w)
				var b [8]byte
				binary.LittleEndian.PutUint64(b[:], old)
				copy(b[lo:lo+n], src[:n])
				if atomic.CompareAndSwapUint64(w, old, binary.LittleEndian.Uint64(b[:])) {
					break
				}
			}
		}
		off += n
		src = src[n:]
	}
}

func loadBytes(dst []byte, mem []byte, off int) {
	for len(dst) > 0 {
		base := off &^ 7
		lo := off - base
		n := min(8-lo, len(dst))
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], atomic.LoadUint64(wordAt(mem, base)))
		copy(dst[:n], b[lo:lo+n])
		off += n
		dst = dst[n:]
	}
}

// ShmDevice is one host's NIC in the shm backend. Close it when the host
// stops: peers then see it down at once.
type ShmDevice struct {
	c    ShmConfig
	o    Options
	p    Profile
	id   paxi.ID
	idx  int
	host Host
	mu   spinLock
	pc   *pacer
	rng  *rand.Rand
	tab  *table
	inc  uint64
	dead bool

	mrs   []*shmMR
	qps   map[qpKey]*shmQP
	peers map[paxi.ID]*peerView
	fatal map[qpKey]uint64 // violation counters seen by the poller

	pollDone, pollExit chan struct{}
}

// peerView is a peer's table and regions as this process maps them.
type peerView struct {
	idx  int
	path string
	tab  *table
	mrs  map[uint32]shmMapping
}

type shmMapping struct {
	inc uint64
	mem []byte
}

var _ Device = (*ShmDevice)(nil)

// OpenShm starts host id of a shm cluster: it creates (or, after a crash,
// takes over) the host's NIC table with a new incarnation and removes the
// regions of the previous one. h receives the device's messages, from the
// device's goroutines: it must queue them and return.
func OpenShm(c ShmConfig, id paxi.ID, h Host) (*ShmDevice, error) {
	if shmSupported != nil {
		return nil, shmSupported
	}
	if err := c.Options.Validate(); err != nil {
		return nil, err
	}
	if c.Dir == "" {
		c.Dir = "/dev/shm"
	}
	if c.Cluster == "" {
		return nil, fmt.Errorf("%w: shm: the cluster name is empty", ErrBadOptions)
	}
	idx := slices.Index(c.Hosts, id)
	if idx < 0 {
		return nil, fmt.Errorf("%w: shm: host %v is not in the cluster %v", ErrUnknownPeer, id, c.Hosts)
	}
	o := c.Options.withDefaults()
	d := &ShmDevice{c: c, o: o, p: o.Profile, id: id, idx: idx, host: h,
		rng: rand.New(rand.NewPCG(o.Seed, uint64(idx)+0x5348)),
		qps: map[qpKey]*shmQP{}, peers: map[paxi.ID]*peerView{}, fatal: map[qpKey]uint64{},
		pollDone: make(chan struct{}), pollExit: make(chan struct{})}
	b, err := mapFile(d.tablePath(id), tableSize(len(c.Hosts)))
	if err != nil {
		return nil, err
	}
	t := newTable(b)
	d.tab = t
	old := atomic.LoadUint64(t.hdr(hInc))
	if atomic.LoadUint64(t.hdr(hMagic)) != shmMagic {
		old = 0
	}
	// A new incarnation: everything of the old one is gone. Peers that
	// were connected to it see the incarnation change and fail.
	atomic.StoreUint64(t.hdr(hDown), 1)
	for rk := FirstRKey; rk < FirstRKey+shmMaxMR; rk++ {
		atomic.StoreUint64(t.mr(rk, mInc), 0)
		atomic.StoreUint64(t.mr(rk, mDirty), noDirty)
	}
	for hi := range c.Hosts {
		for ch := range shmMaxCh {
			for f := range pairWords {
				atomic.StoreUint64(t.pair(hi, ch, f), 0)
			}
		}
	}
	if stale, _ := filepath.Glob(filepath.Join(c.Dir, fmt.Sprintf("%s-%v-*.mr", c.Cluster, id))); len(stale) > 0 {
		for _, f := range stale {
			os.Remove(f)
		}
	}
	d.inc = old + 1
	atomic.StoreUint64(t.hdr(hInc), d.inc)
	atomic.StoreUint64(t.hdr(hPid), uint64(os.Getpid()))
	atomic.StoreUint64(t.hdr(hHosts), uint64(len(c.Hosts)))
	atomic.StoreUint64(t.hdr(hMagic), shmMagic)
	atomic.StoreUint64(t.hdr(hDown), 0)
	d.pc = newPacer(&d.mu)
	go d.poll()
	return d, nil
}

func (d *ShmDevice) tablePath(id paxi.ID) string {
	return filepath.Join(d.c.Dir, fmt.Sprintf("%s-%v.nic", d.c.Cluster, id))
}

func (d *ShmDevice) regionPath(id paxi.ID, inc uint64, rkey uint32) string {
	return filepath.Join(d.c.Dir, fmt.Sprintf("%s-%v-%d-%d.mr", d.c.Cluster, id, inc, rkey))
}

// Close stops the host: peers see it down (RetryExceeded after their RC
// timeout), and its files are removed. Mappings of it that peers hold stay
// valid memory; they are just no longer served.
func (d *ShmDevice) Close() error {
	d.pc.enter()
	if d.dead {
		d.pc.leave()
		return nil
	}
	d.dead = true
	atomic.StoreUint64(d.tab.hdr(hDown), 1)
	d.tab.ring()
	d.pc.leave()
	close(d.pollDone)
	<-d.pollExit
	d.pc.stop()
	for _, m := range d.mrs {
		os.Remove(d.regionPath(d.id, d.inc, m.rkey))
		unmap(m.mem)
	}
	os.Remove(d.tablePath(d.id))
	for _, pv := range d.peers {
		for _, m := range pv.mrs {
			unmap(m.mem)
		}
		unmap(pv.tab.b)
	}
	unmap(d.tab.b)
	return nil
}

// ID implements Device.
func (d *ShmDevice) ID() paxi.ID { return d.id }

// Profile implements Device.
func (d *ShmDevice) Profile() Profile { return d.p }

// Register implements Device: a new file mapped shared.
func (d *ShmDevice) Register(size int, a Access) (MR, error) {
	d.pc.enter()
	defer d.pc.leave()
	if d.dead {
		return nil, ErrDeviceGone
	}
	if size <= 0 || size > math.MaxUint32 {
		return nil, fmt.Errorf("%w: register %d bytes: the size must be in [1, 4 GiB)", ErrBadWR, size)
	}
	if len(d.mrs) == shmMaxMR {
		return nil, fmt.Errorf("%w: register: the shm backend holds %d regions per host", ErrBadWR, shmMaxMR)
	}
	rkey := FirstRKey + uint32(len(d.mrs))
	// Whole words, so that word-wise access never runs off the end.
	mem, err := mapFile(d.regionPath(d.id, d.inc, rkey), (size+7)&^7)
	if err != nil {
		return nil, err
	}
	m := &shmMR{d: d, rkey: rkey, size: size, mem: mem}
	d.mrs = append(d.mrs, m)
	atomic.StoreUint64(d.tab.mr(rkey, mSize), uint64(size))
	atomic.StoreUint64(d.tab.mr(rkey, mAccess), uint64(a))
	atomic.StoreUint64(d.tab.mr(rkey, mDirty), noDirty)
	atomic.StoreUint64(d.tab.mr(rkey, mInc), d.inc) // valid from here
	return m, nil
}

// QP implements Device.
func (d *ShmDevice) QP(peer paxi.ID, ch int) (QP, error) {
	d.pc.enter()
	defer d.pc.leave()
	if d.dead {
		return nil, ErrDeviceGone
	}
	pi := slices.Index(d.c.Hosts, peer)
	if pi < 0 {
		return nil, fmt.Errorf("%w: %v is not in the cluster", ErrUnknownPeer, peer)
	}
	if ch < 0 || ch >= shmMaxCh {
		return nil, fmt.Errorf("%w: channel %d: the shm backend has channels 0..%d", ErrBadWR, ch, shmMaxCh-1)
	}
	k := qpKey{peer, ch}
	q, ok := d.qps[k]
	if !ok {
		q = &shmQP{d: d, peer: peer, pidx: pi, ch: ch}
		d.qps[k] = q
	}
	return q, nil
}

// peer returns a peer's mapped table, nil while it has none. A view of a
// host that went down is dropped so that its next incarnation's table is
// mapped.
func (d *ShmDevice) peer(id paxi.ID) *peerView {
	pv := d.peers[id]
	if pv != nil && atomic.LoadUint64(pv.tab.hdr(hDown)) != 0 {
		if b, err := openMapped(pv.path); err == nil {
			if t := newTable(b); atomic.LoadUint64(t.hdr(hMagic)) == shmMagic && atomic.LoadUint64(t.hdr(hDown)) == 0 {
				for _, m := range pv.mrs {
					unmap(m.mem)
				}
				unmap(pv.tab.b)
				pv.tab, pv.mrs = t, map[uint32]shmMapping{}
			} else {
				unmap(b)
			}
		}
		return pv
	}
	if pv != nil {
		return pv
	}
	path := d.tablePath(id)
	b, err := openMapped(path)
	if err != nil {
		return nil
	}
	t := newTable(b)
	if len(b) < tableSize(len(d.c.Hosts)) || atomic.LoadUint64(t.hdr(hMagic)) != shmMagic {
		unmap(b)
		return nil
	}
	pv = &peerView{idx: slices.Index(d.c.Hosts, id), path: path, tab: t, mrs: map[uint32]shmMapping{}}
	d.peers[id] = pv
	return pv
}

// alive reports whether a peer's table belongs to a running host.
func (pv *peerView) alive() bool {
	return atomic.LoadUint64(pv.tab.hdr(hDown)) == 0 && processAlive(int(atomic.LoadUint64(pv.tab.hdr(hPid))))
}

// region maps a peer's region of incarnation inc, nil if it has none.
func (d *ShmDevice) region(id paxi.ID, pv *peerView, inc uint64, rkey uint32) []byte {
	if m, ok := pv.mrs[rkey]; ok && m.inc == inc {
		return m.mem
	}
	b, err := openMapped(d.regionPath(id, inc, rkey))
	if err != nil {
		return nil
	}
	if old, ok := pv.mrs[rkey]; ok {
		unmap(old.mem)
	}
	pv.mrs[rkey] = shmMapping{inc, b}
	return b
}

// poll is the owner's poller: it raises Changed for remote writes into
// watched ranges and QPFatal for violations, sleeping on the doorbell
// between rounds.
func (d *ShmDevice) poll() {
	defer close(d.pollExit)
	bell := d.tab.hdr(hDoorbell)
	last := time.Now()
	for {
		seq := atomic.LoadUint64(bell)
		d.pc.enter()
		d.scan()
		d.pc.leave()
		select {
		case <-d.pollDone:
			return
		default:
		}
		if atomic.LoadUint64(bell) != seq {
			last = time.Now()
			continue
		}
		if time.Since(last) < idleSpin {
			runtime.Gosched()
			continue
		}
		atomic.StoreUint64(d.tab.hdr(hSleeping), 1)
		if atomic.LoadUint64(bell) == seq {
			futexWaitWord(bell, seq, 20*time.Millisecond)
		}
		atomic.StoreUint64(d.tab.hdr(hSleeping), 0)
	}
}

// scan delivers what changed since the last scan; under the lock.
func (d *ShmDevice) scan() {
	if d.dead {
		return
	}
	for _, m := range d.mrs {
		dirty := atomic.SwapUint64(d.tab.mr(m.rkey, mDirty), noDirty)
		lo, hi := int(uint32(dirty)), int(uint32(dirty>>32))
		if lo >= hi {
			continue
		}
		for _, w := range m.watches {
			if lo < w.off+w.n && hi > w.off {
				d.host.Deliver(Changed{RKey: m.rkey, Watch: w.id, Off: w.off, Len: w.n})
			}
		}
	}
	for k, q := range d.qps {
		f := atomic.LoadUint64(d.tab.pair(q.pidx, q.ch, pFatal))
		if f != d.fatal[k] {
			d.fatal[k] = f
			q.failed = true
			d.host.Deliver(Event{Kind: QPFatal, Peer: q.peer, Channel: q.ch, Access: Access(atomic.LoadUint64(d.tab.pair(q.pidx, q.ch, pAccess)))})
		}
	}
}

// jitter draws a one-way latency around median x.
func (d *ShmDevice) jitter(x time.Duration) time.Duration {
	if d.p.Sigma > 0 {
		x = time.Duration(float64(x) * math.Exp(d.p.Sigma*d.rng.NormFloat64()))
	}
	if d.p.SpikeProbability > 0 && d.p.Spike > 0 && d.rng.Float64() < d.p.SpikeProbability {
		x += time.Duration(d.rng.Int64N(int64(d.p.Spike)))
	}
	return x
}

// shmMR is a region of this host.
type shmMR struct {
	d         *ShmDevice
	rkey      uint32
	size      int
	mem       []byte
	watches   []watch
	nextWatch int
	accessAt  time.Duration
}

func (m *shmMR) RKey() uint32 { return m.rkey }
func (m *shmMR) Len() int     { return m.size }

func (m *shmMR) Access() Access { return Access(atomic.LoadUint64(m.d.tab.mr(m.rkey, mAccess))) }

func (m *shmMR) Read(off int, p []byte) {
	checkLocal("read", m.rkey, m.size, off, len(p))
	loadBytes(p, m.mem, off)
}

func (m *shmMR) Write(off int, p []byte) {
	checkLocal("write", m.rkey, m.size, off, len(p))
	storeBytes(m.mem, off, p)
}

func (m *shmMR) Load64(off int) uint64 {
	checkLocal("Load64", m.rkey, m.size, off, 8)
	if off%8 != 0 {
		var b [8]byte
		loadBytes(b[:], m.mem, off)
		return binary.LittleEndian.Uint64(b[:])
	}
	return atomic.LoadUint64(wordAt(m.mem, off))
}

func (m *shmMR) Store64(off int, v uint64) {
	checkLocal("Store64", m.rkey, m.size, off, 8)
	if off%8 != 0 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], v)
		storeBytes(m.mem, off, b[:])
		return
	}
	atomic.StoreUint64(wordAt(m.mem, off), v)
}

func (m *shmMR) Watch(off, n int) int {
	checkLocal("watch", m.rkey, m.size, off, n)
	m.d.pc.enter()
	defer m.d.pc.leave()
	m.nextWatch++
	m.watches = append(m.watches, watch{id: m.nextWatch, off: off, n: n})
	return m.nextWatch
}

func (m *shmMR) Unwatch(id int) {
	m.d.pc.enter()
	defer m.d.pc.leave()
	m.watches = slices.DeleteFunc(m.watches, func(w watch) bool { return w.id == id })
}

// Reregister changes the region's rights holding every entry's lock, so
// that no placement from any peer is under way at the instant.
func (m *shmMR) Reregister(a Access) error {
	d := m.d
	d.pc.enter()
	defer d.pc.leave()
	if d.dead {
		return ErrDeviceGone
	}
	cost := d.p.RegisterBase + time.Duration(float64(d.p.RegisterPerMiB)*float64(m.size)/(1<<20))
	now := d.pc.Now()
	at := max(now+cost, m.accessAt)
	m.accessAt = at
	d.pc.After(at-now, func() {
		if d.dead {
			return
		}
		for hi := range d.c.Hosts {
			for ch := range shmMaxCh {
				d.tab.lockPair(hi, ch)
			}
		}
		atomic.StoreUint64(d.tab.mr(m.rkey, mAccess), uint64(a))
		for hi := range d.c.Hosts {
			for ch := range shmMaxCh {
				d.tab.unlockPair(hi, ch)
			}
		}
		d.host.Deliver(Event{Kind: Reregistered, RKey: m.rkey, Access: a})
	})
	return nil
}

// shmQP is one end of a queue pair: requester state here, responder state
// in this host's table, where the peer's requests check it.
type shmQP struct {
	d    *ShmDevice
	peer paxi.ID
	pidx int
	ch   int

	gen                     uint64
	failed                  bool
	errAt                   time.Duration
	posted, freed           uint64
	lastPlace, lastComplete time.Duration
	reads                   []time.Duration
	accessAt                time.Duration
}

func (q *shmQP) word(f int) *uint64 { return q.d.tab.pair(q.pidx, q.ch, f) }

func (q *shmQP) Peer() paxi.ID { return q.peer }
func (q *shmQP) Channel() int  { return q.ch }
func (q *shmQP) String() string {
	return fmt.Sprintf("shm qp %v->%v/%d", q.d.id, q.peer, q.ch)
}

// State is the state in force. An end that a peer's violation put in Err
// stays in its previous state, for its owner, until the owner's poller has
// raised the QPFatal: the owner learns of it by that event first.
func (q *shmQP) State() QPState {
	q.d.pc.enter()
	defer q.d.pc.leave()
	return q.state()
}

// state is State, holding the lock.
func (q *shmQP) state() QPState {
	s := QPState(atomic.LoadUint64(q.word(pState)))
	if s == Err && !q.failed && atomic.LoadUint64(q.word(pFatal)) != q.d.fatal[qpKey{q.peer, q.ch}] {
		return RTS
	}
	return s
}

func (q *shmQP) RemoteAccess() Access { return Access(atomic.LoadUint64(q.word(pAccess))) }

func (q *shmQP) Outstanding() int {
	q.d.pc.enter()
	defer q.d.pc.leave()
	return int(q.posted - q.freed)
}

// setState changes the responder-visible state under the entry's lock.
func (q *shmQP) setState(s QPState, a Access, remoteInc uint64, setAccess bool) {
	t := q.d.tab
	t.lockPair(q.pidx, q.ch)
	atomic.StoreUint64(q.word(pState), uint64(s))
	if setAccess {
		atomic.StoreUint64(q.word(pAccess), uint64(a))
		atomic.StoreUint64(q.word(pRemoteInc), remoteInc)
	}
	t.unlockPair(q.pidx, q.ch)
}

func (q *shmQP) Reset() error {
	q.d.pc.enter()
	defer q.d.pc.leave()
	if q.d.dead {
		return ErrDeviceGone
	}
	q.setState(Reset, NoAccess, 0, true)
	q.failed = false
	q.gen++
	q.freed = q.posted
	q.reads = nil
	q.d.fatal[qpKey{q.peer, q.ch}] = atomic.LoadUint64(q.word(pFatal))
	return nil
}

func (q *shmQP) Connect(a Access) error {
	d := q.d
	d.pc.enter()
	defer d.pc.leave()
	if d.dead {
		return ErrDeviceGone
	}
	if s := q.state(); s != Reset {
		return fmt.Errorf("%w: connect %v in %v: Reset it first", ErrQPState, q, s)
	}
	q.setState(Init, 0, 0, false)
	gen := q.gen
	var finish func()
	finish = func() {
		if d.dead || q.gen != gen || q.state() != Init {
			return
		}
		pv := d.peer(q.peer)
		if pv == nil || !pv.alive() {
			// The peer has not started (or restarted) yet: the handshake
			// goes on until it has a table.
			d.pc.After(time.Millisecond, finish)
			return
		}
		q.setState(RTS, a, atomic.LoadUint64(pv.tab.hdr(hInc)), true)
		q.failed = false
		d.host.Deliver(Event{Kind: Connected, Peer: q.peer, Channel: q.ch, Access: a})
	}
	d.pc.After(d.p.Connect, finish)
	return nil
}

func (q *shmQP) SetRemoteAccess(a Access) error {
	d := q.d
	d.pc.enter()
	defer d.pc.leave()
	if d.dead {
		return ErrDeviceGone
	}
	if s := q.state(); s != RTS {
		return fmt.Errorf("%w: SetRemoteAccess on %v in %v: only in RTS (pass the rights to Connect)", ErrQPState, q, s)
	}
	gen := q.gen
	now := d.pc.Now()
	at := max(now+d.p.AccessChange, q.accessAt)
	q.accessAt = at
	d.pc.After(at-now, func() {
		if d.dead || q.gen != gen {
			return
		}
		d.tab.lockPair(q.pidx, q.ch)
		atomic.StoreUint64(q.word(pAccess), uint64(a))
		d.tab.unlockPair(q.pidx, q.ch)
		d.host.Deliver(Event{Kind: AccessChanged, Peer: q.peer, Channel: q.ch, Access: a})
	})
	return nil
}

func (q *shmQP) PostRecv(id uint64, buf []byte) error {
	return fmt.Errorf("%w: PostRecv on %v: the shm backend has no two-sided verbs; send messages over the framework's transport", ErrBadWR, q)
}

func (q *shmQP) Post(wrs ...WR) error {
	d := q.d
	d.pc.enter()
	defer d.pc.leave()
	if d.dead {
		return ErrDeviceGone
	}
	if s := q.state(); s != RTS && s != Err {
		return fmt.Errorf("%w: post on %v in %v", ErrQPState, q, s)
	}
	for _, w := range wrs {
		if err := validateWR(w, d.p); err != nil {
			return err
		}
		if w.Op == Send || w.Op == WriteImm {
			return fmt.Errorf("%w: %v on %v: the shm backend has no two-sided verbs (SEND, WRITE_WITH_IMM); send messages over the framework's transport", ErrBadWR, w, q)
		}
	}
	if used := int(q.posted-q.freed) + len(wrs); used > d.p.SendQueue {
		return fmt.Errorf("%w: %v: %d slots needed, depth %d (unsignaled requests hold theirs until a later signaled one completes)",
			ErrSendQueueFull, q, used, d.p.SendQueue)
	}
	for _, w := range wrs {
		q.post(w)
	}
	return nil
}

// shmOp is a posted work request on its way.
type shmOp struct {
	w               WR
	seq, gen        uint64
	postedAt        time.Duration
	place, complete time.Duration
	payload         []byte
}

func (q *shmQP) post(w WR) {
	d := q.d
	p := d.p
	now := d.pc.Now()
	q.posted++
	o := &shmOp{w: w, seq: q.posted, gen: q.gen, postedAt: now}
	if carriesPayload(w.Op) {
		// Captured at post, inline or not: the NIC's DMA read of a
		// reused buffer is modelled by the sim backend only.
		o.payload = slices.Clone(w.Local)
	}
	if q.state() == Err || q.failed {
		o.complete = max(now+p.Poll, q.lastComplete)
		q.lastComplete = o.complete
		q.completeAt(o, FlushErr, o.complete, nil)
		return
	}
	readLike := w.Op == Read || w.Op.atomic()
	place, in := p.placeAt(w, p.issueAt(w, now), q.reads, d.jitter)
	place = max(place, q.lastPlace)
	q.lastPlace = place
	complete := max(place+d.jitter(p.Ack)+p.bytesTime(in)+p.Poll, q.lastComplete)
	q.lastComplete = complete
	if readLike {
		q.reads = append(q.reads, complete)
		q.reads = slices.DeleteFunc(q.reads, func(t time.Duration) bool { return t <= now })
	}
	o.place, o.complete = place, complete
	d.pc.After(place-now, func() { q.execute(o) })
}

// execute runs an operation against the peer's memory, at its placement
// instant, holding the peer's entry lock for this host and channel.
func (q *shmQP) execute(o *shmOp) {
	d, w := q.d, o.w
	if q.gen != o.gen || d.dead {
		return
	}
	if q.failed {
		q.completeAt(o, FlushErr, max(o.complete, q.errAt), nil)
		return
	}
	pv := d.peer(q.peer)
	remoteInc := atomic.LoadUint64(q.word(pRemoteInc))
	if pv == nil || !pv.alive() || atomic.LoadUint64(pv.tab.hdr(hInc)) != remoteInc {
		q.fail(o, RetryExceeded, max(o.complete, o.postedAt+d.p.RCTimeout()))
		return
	}
	t := pv.tab
	t.lockPair(d.idx, q.ch)
	unlocked := false
	unlock := func() {
		if !unlocked {
			t.unlockPair(d.idx, q.ch)
			unlocked = true
		}
	}
	defer unlock()
	if QPState(atomic.LoadUint64(t.pair(d.idx, q.ch, pState))) != RTS || atomic.LoadUint64(t.pair(d.idx, q.ch, pRemoteInc)) != d.inc {
		unlock()
		q.fail(o, RetryExceeded, max(o.complete, o.postedAt+d.p.RCTimeout()))
		return
	}
	var mem []byte
	var size int
	var ma Access
	found := false
	if w.RKey >= FirstRKey && w.RKey < FirstRKey+shmMaxMR && atomic.LoadUint64(t.mr(w.RKey, mInc)) == remoteInc {
		size = int(atomic.LoadUint64(t.mr(w.RKey, mSize)))
		ma = Access(atomic.LoadUint64(t.mr(w.RKey, mAccess)))
		mem = d.region(q.peer, pv, remoteInc, w.RKey)
		found = mem != nil
	}
	st := checkRemote(w, found, size, ma, Access(atomic.LoadUint64(t.pair(d.idx, q.ch, pAccess))))
	if st != Success {
		if !d.o.KeepResponderOnAccessErr {
			atomic.StoreUint64(t.pair(d.idx, q.ch, pState), uint64(Err))
			atomic.AddUint64(t.pair(d.idx, q.ch, pFatal), 1)
			unlock()
			t.ring()
		}
		q.fail(o, st, o.complete)
		return
	}
	var data []byte
	off := int(w.RemoteAddr)
	switch w.Op {
	case Write:
		for _, c := range chunks(off, len(o.payload), d.o.Placement, d.rng) {
			storeBytes(mem, c.lo, o.payload[c.lo-off:c.hi-off])
		}
		t.markDirty(w.RKey, off, off+len(o.payload))
	case Read:
		data = make([]byte, len(w.Local))
		loadBytes(data, mem, off)
	case CAS, FAA:
		wp := wordAt(mem, off)
		var old uint64
		if w.Op == CAS {
			for {
				old = atomic.LoadUint64(wp)
				if old != w.Compare || atomic.CompareAndSwapUint64(wp, old, w.Swap) {
					break
				}
			}
		} else {
			old = atomic.AddUint64(wp, w.Add) - w.Add
		}
		data = binary.LittleEndian.AppendUint64(nil, old)
		if w.Op == FAA || old == w.Compare {
			t.markDirty(w.RKey, off, off+8)
		}
	}
	unlock()
	if w.Op != Read {
		t.ring()
	}
	q.completeAt(o, Success, o.complete, data)
}

// fail completes o with an error: later work on the queue pair is
// flushed, and it enters Err when the error completes.
func (q *shmQP) fail(o *shmOp, st Status, at time.Duration) {
	q.failed = true
	q.errAt = at
	q.lastComplete = max(q.lastComplete, at)
	q.completeAt(o, st, at, nil)
}

// completeAt delivers o's completion at `at`.
func (q *shmQP) completeAt(o *shmOp, st Status, at time.Duration, data []byte) {
	d := q.d
	d.pc.After(at-d.pc.Now(), func() {
		if q.gen != o.gen || d.dead {
			return
		}
		if st != Success {
			q.setState(Err, 0, 0, false)
		}
		if !o.w.Signaled && st == Success {
			return
		}
		q.freed = max(q.freed, o.seq)
		wc := WC{ID: o.w.ID, Peer: q.peer, Channel: q.ch, Op: o.w.Op, Status: st}
		if st == Success {
			wc.Len = opLen(o.w)
			switch {
			case o.w.Op == Read:
				copy(o.w.Local, data)
			case o.w.Op.atomic():
				wc.Value = binary.LittleEndian.Uint64(data)
				copy(o.w.Local, data)
			}
		}
		d.host.Deliver(wc)
	})
}
