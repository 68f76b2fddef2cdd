package mu

import (
	"errors"
	"fmt"
	"time"

	"github.com/ailidani/paxi-style/transport/rdma"
)

// Options are Mu's knobs. The zero value of a field means its default.
type Options struct {
	// Slots is the log's capacity in slots; the log is circular and a slot
	// is reused Slots indices later (log recycling). Default 4096.
	Slots int
	// SlotSize is the size of one slot in bytes, a multiple of
	// rdma.ChunkSize; a command must fit in SlotSize-slotOverhead bytes.
	// Default 256.
	SlotSize int
	// Scan is the period of the background plane: heartbeat increment,
	// heartbeat reads, score update, permission retries. Default 5ms (the
	// paper's detector runs at µs scale: set e.g. 10µs to measure
	// fail-over; the default keeps long simulations cheap).
	Scan time.Duration
	// ScoreMax, ScoreUp and ScoreDown shape the heartbeat score: +ScoreUp
	// (capped at ScoreMax) when a peer's counter moved since the last scan,
	// -ScoreDown (floored at 0) when it did not. A peer alive is declared
	// dead when its score falls to FailAt, a dead one alive again when it
	// climbs to RecoverAt (hysteresis). Defaults 10, 3, 1, 2, 6.
	ScoreMax, ScoreUp, ScoreDown, FailAt, RecoverAt int
	// Retry is how often a node re-forwards a client request it received
	// and has not executed, and how long a leader waits for a snapshot.
	// Default 20ms.
	Retry time.Duration
	// Stall is how long an operation may stay outstanding on a queue pair
	// before the queue pair is reset and reconnected and the peer treated as
	// failed: the RC transport would report an unreachable peer only after
	// its timeout (about half a second), far beyond Mu's detector. Default
	// 4 × Scan.
	Stall time.Duration
	// Backoff is how many scans a replica waits before asking for
	// permissions again after it granted them to another. Default 3.
	Backoff int
	// TrustPlacement makes followers accept a slot when its header and
	// trailer carry the right index, without the checksum: the canary
	// alone, which is sound only if a write lands in address order. It
	// exists to show that random-chunk placement catches a protocol that
	// trusts it; never set it otherwise.
	TrustPlacement bool
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options { return Options{}.withDefaults() }

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Slots, 4096)
	def(&o.SlotSize, 256)
	def(&o.ScoreMax, 10)
	def(&o.ScoreUp, 3)
	def(&o.ScoreDown, 1)
	def(&o.FailAt, 2)
	def(&o.RecoverAt, 6)
	def(&o.Backoff, 3)
	if o.Scan == 0 {
		o.Scan = 5 * time.Millisecond
	}
	if o.Stall == 0 {
		o.Stall = 4 * o.Scan
	}
	if o.Retry == 0 {
		o.Retry = 20 * time.Millisecond
	}
	return o
}

// ErrBadOptions is wrapped by every invalid Options error.
var ErrBadOptions = errors.New("mu: bad options")

// Validate checks the options after filling defaults.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	if o.Slots < 2 {
		errs = append(errs, fmt.Errorf("%w: Slots = %d: need at least 2", ErrBadOptions, o.Slots))
	}
	if o.SlotSize <= slotOverhead || o.SlotSize%rdma.ChunkSize != 0 {
		errs = append(errs, fmt.Errorf("%w: SlotSize = %d: want a multiple of %d above %d", ErrBadOptions, o.SlotSize, rdma.ChunkSize, slotOverhead))
	}
	if o.Scan < 0 || o.Retry < 0 {
		errs = append(errs, fmt.Errorf("%w: Scan = %v, Retry = %v: must be positive", ErrBadOptions, o.Scan, o.Retry))
	}
	if o.FailAt >= o.RecoverAt || o.RecoverAt > o.ScoreMax || o.ScoreUp <= 0 || o.ScoreDown <= 0 {
		errs = append(errs, fmt.Errorf("%w: scores: want 0 <= FailAt (%d) < RecoverAt (%d) <= ScoreMax (%d), ScoreUp (%d) and ScoreDown (%d) positive",
			ErrBadOptions, o.FailAt, o.RecoverAt, o.ScoreMax, o.ScoreUp, o.ScoreDown))
	}
	return errors.Join(errs...)
}
