package rdma

import (
	"errors"
	"fmt"
	"time"
)

// Options configure an emulated fabric (the sim backend; mem and shm will
// take the same).
type Options struct {
	// Profile is the latency model; the zero value means CX5EDR1Switch.
	Profile Profile
	// Placement is how multi-chunk writes land (default InorderChunks).
	Placement Placement
	// TearWindow is how long the chunks of one write take to land in
	// RandomChunks mode, so that pollers and READs can see it torn; 0
	// means 2 µs.
	TearWindow time.Duration
	// KeepResponderOnAccessErr keeps the responder's queue pair in RTS
	// when a peer's operation violates its rights. Off (the default), the
	// responder's end goes to Err too and its replica gets a QPFatal event,
	// as on common hardware.
	KeepResponderOnAccessErr bool
	// Seed drives the jitter and the random chunk orders.
	Seed uint64
}

// DefaultOptions is the default profile with in-order chunk placement.
func DefaultOptions(seed uint64) Options {
	return Options{Profile: CX5EDR1Switch(), Seed: seed}
}

// withDefaults fills the zero values.
func (o Options) withDefaults() Options {
	if o.Profile.Name == "" {
		o.Profile = CX5EDR1Switch()
	}
	if o.TearWindow == 0 {
		o.TearWindow = 2 * time.Microsecond
	}
	return o
}

// Validate checks the options (after filling defaults).
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	if err := o.Profile.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.Placement > Whole {
		errs = append(errs, fmt.Errorf("%w: placement %d: want InorderChunks, RandomChunks or Whole", ErrBadOptions, o.Placement))
	}
	if o.TearWindow < 0 {
		errs = append(errs, fmt.Errorf("%w: TearWindow = %v: must not be negative", ErrBadOptions, o.TearWindow))
	}
	return errors.Join(errs...)
}

// String prints the options on one line.
func (o Options) String() string {
	o = o.withDefaults()
	return fmt.Sprintf("rdma{profile=%s placement=%v seed=%d}", o.Profile.Name, o.Placement, o.Seed)
}
