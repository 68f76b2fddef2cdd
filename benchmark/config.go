package benchmark

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the "benchmark" section of a cluster configuration: what load the
// benchmarker generates. Field names are the original Paxi's, so a Paxi
// benchmark section reads unchanged (its W, Speed and Mu mean the same here).
type Config struct {
	// T is how long to run. Zero means run N operations instead. A bare
	// JSON number is read as seconds, as in Paxi.
	T Duration `json:"T"`
	// N is how many operations to run, over all clients, when T is zero.
	N int `json:"N"`
	// K is the number of keys; keys are the integers Min .. Min+K-1.
	K int `json:"K"`
	// W is the fraction of operations that are writes (puts), in [0, 1];
	// the rest are reads.
	W float64 `json:"W"`
	// Throttle is the target rate in operations per second over all
	// clients; 0 runs closed-loop (each client sends its next request as
	// soon as the previous one returns). With a throttle every request has
	// a scheduled start, spread evenly over the clients, and its latency is
	// measured from that scheduled start, not from when it was sent: a
	// stalled system then shows up as high latency instead of being hidden
	// by the clients waiting for it (coordinated omission).
	Throttle float64 `json:"Throttle"`
	// Concurrency is the number of clients, each with at most one request
	// outstanding.
	Concurrency int `json:"Concurrency"`
	// Distribution picks keys: "uniform", "order" (each client walks the
	// keys in sequence), "conflict" (Conflicts % of requests on one hot
	// key), "normal" (locality: a normal distribution around Mu with
	// standard deviation Sigma, optionally moving), "zipfian" (Paxi's
	// spelling "zipfan" is accepted) or "exponential".
	Distribution string `json:"Distribution"`
	// Size is the length in bytes of written values. Each value starts
	// with the writing client and its operation number, so values are
	// unique (and a checker can tell writes apart) when Size is at least
	// about 12.
	Size int `json:"Size"`

	// Conflicts is, for "conflict", the percentage of requests that go to
	// the hot key 0; the others walk Min .. Min+K-1 in sequence as "order"
	// does. Set Min to 1 or more to keep the hot key out of that range.
	Conflicts int `json:"Conflicts"`
	// Min is the smallest key: every distribution draws from Min ..
	// Min+K-1 (the conflict hot key excepted). Giving each client machine
	// its own Min gives them disjoint keys, as in Paxi.
	Min int `json:"Min"`
	// ZoneKeys gives each zone's clients their own block of K keys: zone
	// z draws from Min+(z-1)*K .. Min+z*K-1 (the conflict hot key
	// excepted). With "conflict" this is the WAN conflict workload of the
	// Paxi paper: every region works on its own objects, and the
	// percentage of Conflicts goes to the one object they all share.
	ZoneKeys bool `json:"ZoneKeys,omitempty"`

	// Mu is, for "normal", the mean key (relative to Min). One number
	// applies to every zone; a list gives the mean of zone 1, 2, ... so
	// that each zone's clients favour their own keys (the locality
	// workload of the Paxi paper's Figure 6).
	Mu Mus `json:"Mu"`
	// Sigma is, for "normal", the standard deviation in keys, shared by
	// every zone.
	Sigma float64 `json:"Sigma"`
	// Move makes the mean of "normal" move one key up every Speed (modulo
	// K), so that the set of hot keys drifts as in a migrating workload.
	Move bool `json:"Move"`
	// Speed is how long the mean stays on one key when Move is set. A bare
	// JSON number is read as milliseconds, as in Paxi.
	Speed Millis `json:"Speed"`

	// ZipfianS is, for "zipfian", the exponent s (> 1): key k (relative to
	// Min) has probability proportional to 1/(ZipfianV+k)^ZipfianS.
	ZipfianS float64 `json:"ZipfianS"`
	// ZipfianV is, for "zipfian", the offset v (>= 1).
	ZipfianV float64 `json:"ZipfianV"`

	// Lambda is, for "exponential", the rate: keys (relative to Min) follow
	// an exponential distribution of mean 1/Lambda, wrapped into K.
	Lambda float64 `json:"Lambda"`
}

// DefaultConfig returns a 10-second closed-loop, 50 %-write, 1000-key uniform
// workload with 16 clients and 64-byte values; the parameters of the other
// distributions are the original Paxi's defaults.
func DefaultConfig() Config {
	return Config{
		T:            Duration(10 * time.Second),
		K:            1000,
		W:            0.5,
		Concurrency:  16,
		Distribution: Uniform,
		Size:         64,
		Conflicts:    100,
		Mu:           Mus{0},
		Sigma:        60,
		Speed:        Millis(500 * time.Millisecond),
		ZipfianS:     2,
		ZipfianV:     1,
		Lambda:       0.01,
	}
}

// Names of the key distributions.
const (
	Uniform     = "uniform"
	Order       = "order"
	Conflict    = "conflict"
	Normal      = "normal"
	Zipfian     = "zipfian"
	Exponential = "exponential"
)

// Distributions lists the supported key distributions.
var Distributions = []string{Uniform, Order, Conflict, Normal, Zipfian, Exponential}

// distribution returns the canonical name of d (Paxi's "zipfan" is
// "zipfian"), or "" if d is unknown.
func distribution(d string) string {
	if d == "zipfan" {
		return Zipfian
	}
	if slices.Contains(Distributions, d) {
		return d
	}
	return ""
}

// Limits on the configuration, so that a typo cannot ask for a terabyte of
// buffers.
const (
	maxConcurrency = 100000
	maxSize        = 1 << 20
	maxKeys        = 1 << 40
)

// Validate reports every problem of the configuration at once, each naming
// the field and the bound.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.T < 0 {
		bad("benchmark.T = %v: must not be negative", c.T)
	}
	if c.N < 0 {
		bad("benchmark.N = %d: must not be negative", c.N)
	}
	if c.T == 0 && c.N <= 0 {
		bad("benchmark.N = %d: must be positive when benchmark.T is 0", c.N)
	}
	if c.K < 1 || c.K > maxKeys {
		bad("benchmark.K = %d: need at least 1 key (and at most %d)", c.K, int64(maxKeys))
	}
	if !(c.W >= 0 && c.W <= 1) {
		bad("benchmark.W = %g: write ratio must be in [0,1]", c.W)
	}
	if !(c.Throttle >= 0) || math.IsInf(c.Throttle, 0) {
		bad("benchmark.Throttle = %g: must be a rate >= 0 ops/s (0: closed loop)", c.Throttle)
	}
	if c.Concurrency < 1 || c.Concurrency > maxConcurrency {
		bad("benchmark.Concurrency = %d: must be in [1,%d]", c.Concurrency, maxConcurrency)
	}
	if c.Size < 1 || c.Size > maxSize {
		bad("benchmark.Size = %d: value size must be in [1,%d] bytes", c.Size, maxSize)
	}
	if distribution(c.Distribution) == "" {
		bad("benchmark.Distribution = %q: must be one of %q", c.Distribution, Distributions)
	}
	if c.Conflicts < 0 || c.Conflicts > 100 {
		bad("benchmark.Conflicts = %d: percentage must be in [0,100]", c.Conflicts)
	}
	if c.Min < 0 || c.Min > maxKeys {
		bad("benchmark.Min = %d: must be in [0,%d]", c.Min, int64(maxKeys))
	}
	if len(c.Mu) == 0 {
		bad("benchmark.Mu is empty: give one mean, or one per zone")
	}
	for i, m := range c.Mu {
		if math.IsNaN(m) || math.IsInf(m, 0) {
			bad("benchmark.Mu[%d] = %g: must be a finite number", i, m)
		}
	}
	if !(c.Sigma > 0) || math.IsInf(c.Sigma, 0) {
		bad("benchmark.Sigma = %g: must be positive and finite", c.Sigma)
	}
	if c.Speed <= 0 {
		bad("benchmark.Speed = %v: must be positive", c.Speed)
	}
	if !(c.ZipfianS > 1) || math.IsInf(c.ZipfianS, 0) {
		bad("benchmark.ZipfianS = %g: must be > 1", c.ZipfianS)
	}
	if !(c.ZipfianV >= 1) || math.IsInf(c.ZipfianV, 0) {
		bad("benchmark.ZipfianV = %g: must be >= 1", c.ZipfianV)
	}
	if !(c.Lambda > 0) || math.IsInf(c.Lambda, 0) {
		bad("benchmark.Lambda = %g: must be positive and finite", c.Lambda)
	}
	return errors.Join(errs...)
}

// Mus is the mean of the normal distribution: one value for every zone, or
// one per zone. In JSON it is a number (as in Paxi) or a list of numbers.
type Mus []float64

// Zone returns the mean for zone z (zones are numbered from 1).
func (m Mus) Zone(z int) (float64, error) {
	switch {
	case len(m) == 1:
		return m[0], nil
	case z >= 1 && z <= len(m):
		return m[z-1], nil
	default:
		return 0, fmt.Errorf("benchmark.Mu has %d values (one per zone) but a client is in zone %d", len(m), z)
	}
}

// MarshalJSON writes a single mean as a number, several as a list.
func (m Mus) MarshalJSON() ([]byte, error) {
	if len(m) == 1 {
		return json.Marshal(m[0])
	}
	return json.Marshal([]float64(m))
}

// UnmarshalJSON reads a number or a list of numbers.
func (m *Mus) UnmarshalJSON(b []byte) error {
	var one float64
	if err := json.Unmarshal(b, &one); err == nil {
		*m = Mus{one}
		return nil
	}
	var list []float64
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("benchmark.Mu %s: want a number or a list of numbers (one per zone)", b)
	}
	*m = list
	return nil
}

// String formats the means as a comma-separated list, the form ParseMus
// reads.
func (m Mus) String() string {
	s := make([]string, len(m))
	for i, v := range m {
		s[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

// ParseMus reads a comma-separated list of means, e.g. "200,500,800".
func ParseMus(s string) (Mus, error) {
	var m Mus
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, fmt.Errorf("mean %q: %w", f, err)
		}
		m = append(m, v)
	}
	return m, nil
}
