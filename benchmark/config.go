package benchmark

import (
	"errors"
	"fmt"
	"time"
)

// Config is the "benchmark" section of a cluster configuration: what load the
// benchmarker generates. Field names follow the original Paxi's.
type Config struct {
	// T is how long to run. Zero means run N operations instead.
	T Duration `json:"T"`
	// N is how many operations to run when T is zero.
	N int `json:"N"`
	// K is the number of keys; keys are the integers 0 .. K-1.
	K int `json:"K"`
	// W is the fraction of operations that are writes (puts), in [0, 1].
	W float64 `json:"W"`
	// Concurrency is the number of closed-loop clients, each with one
	// request outstanding.
	Concurrency int `json:"Concurrency"`
	// Distribution picks keys: "uniform" or "order" (sequential).
	Distribution string `json:"Distribution"`
	// Size is the length in bytes of written values.
	Size int `json:"Size"`
}

// DefaultConfig returns a 10-second, 50 %-write, 1000-key uniform workload
// with 16 clients and 64-byte values.
func DefaultConfig() Config {
	return Config{
		T:            Duration(10 * time.Second),
		K:            1000,
		W:            0.5,
		Concurrency:  16,
		Distribution: "uniform",
		Size:         64,
	}
}

// Distributions lists the supported key distributions.
var Distributions = []string{"uniform", "order"}

// Validate reports every problem of the configuration, each naming the field
// and the bound.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.T < 0 {
		bad("benchmark.T = %v: must not be negative", c.T)
	}
	if c.T == 0 && c.N <= 0 {
		bad("benchmark.N = %d: must be positive when benchmark.T is 0", c.N)
	}
	if c.N < 0 {
		bad("benchmark.N = %d: must not be negative", c.N)
	}
	if c.K < 1 {
		bad("benchmark.K = %d: need at least 1 key", c.K)
	}
	if c.W < 0 || c.W > 1 {
		bad("benchmark.W = %g: write ratio must be in [0,1]", c.W)
	}
	if c.Concurrency < 1 || c.Concurrency > 100000 {
		bad("benchmark.Concurrency = %d: must be in [1,100000]", c.Concurrency)
	}
	if c.Size < 0 || c.Size > 1<<20 {
		bad("benchmark.Size = %d: value size must be in [0,1048576] bytes", c.Size)
	}
	known := false
	for _, d := range Distributions {
		known = known || d == c.Distribution
	}
	if !known {
		bad("benchmark.Distribution = %q: must be one of %q", c.Distribution, Distributions)
	}
	return errors.Join(errs...)
}
