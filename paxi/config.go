package paxi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ailidani/paxi-style/benchmark"
)

// Duration is a time.Duration written in JSON as "50ms" or "2s" (a bare
// number is read as seconds).
type Duration = benchmark.Duration

// Transports the runtime can use between nodes.
const (
	TransportTCP  = "tcp"
	TransportUDP  = "udp"
	TransportChan = "chan"
)

// Config is a cluster configuration: who the nodes are, how they talk, how
// the protocol is tuned and what load the benchmarker generates. It is read
// from a JSON file (LoadConfig) or built in code from DefaultConfig. Every
// node of a cluster must use the same Config.
type Config struct {
	// Protocol names the protocol every node runs (see package protocols).
	Protocol string `json:"protocol"`
	// Transport is how nodes talk to each other: "tcp", "udp" or "chan"
	// (in-process channels; for clusters inside one process).
	Transport string `json:"transport"`
	// Addrs maps every node to the host:port its transport listens on. A
	// "tcp://" or "udp://" prefix, as in Paxi's files, is accepted and
	// dropped.
	Addrs map[ID]string `json:"address"`
	// HTTPAddrs maps every node to the base URL of its REST API, e.g.
	// "http://127.0.0.1:8081".
	HTTPAddrs map[ID]string `json:"http_address"`
	// NativeAddrs maps nodes to the host:port of their native client
	// protocol (package native), the fast path next to REST. Optional: a
	// node without one serves REST only.
	NativeAddrs map[ID]string `json:"native_address,omitempty"`

	// Heartbeat is how often a leader tells followers it is alive.
	Heartbeat Duration `json:"heartbeat"`
	// ElectionTimeout is how long a follower waits without hearing from its
	// leader before it tries to lead. Each wait is drawn at random from
	// [ElectionTimeout, 2*ElectionTimeout) so that candidates rarely duel.
	// It must be at least 3 heartbeats.
	ElectionTimeout Duration `json:"election_timeout"`
	// RequestTimeout is how long the REST API waits for a command to be
	// executed before it answers 503.
	RequestTimeout Duration `json:"request_timeout"`
	// Pipeline is how many log slots a leader keeps in flight at once;
	// requests that arrive while the pipeline is full are batched into the
	// next slot.
	Pipeline int `json:"pipeline"`
	// BatchMax is the largest number of commands proposed in one slot.
	BatchMax int `json:"batch_max"`
	// QueueSize is the number of messages queued per peer before the
	// transport drops new ones (protocols retransmit).
	QueueSize int `json:"queue_size"`
	// MaxBodyBytes is the largest request body the REST API accepts; a
	// larger one is answered 413.
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// AdminToken guards the fault-injection endpoints (/crash, /drop, ...).
	// It is required when any REST API listens on a non-loopback address,
	// and must then be sent in the X-Paxi-Token header.
	AdminToken string `json:"admin_token,omitempty"`
	// LogLevel is the nodes' log level: "debug", "info", "warn" or "error".
	LogLevel string `json:"log_level"`

	// Quorum chooses the phase-1 and phase-2 quorums of protocols that take
	// them as a parameter (fpaxos). Multi-Paxos always uses majorities.
	Quorum QuorumConfig `json:"quorum"`

	// WPaxos tunes protocol "wpaxos": tolerated zone failures and the
	// migration policy.
	WPaxos WPaxosConfig `json:"wpaxos"`

	// RDMA chooses the runtime's RDMA emulation for protocols with
	// Protocol.RDMA.
	RDMA RDMAConfig `json:"rdma"`

	// WAN, if set, delays every message by half the round-trip time between
	// the zones of its sender and receiver (see WAN).
	WAN *WAN `json:"wan,omitempty"`

	// Benchmark is the load the benchmarker generates.
	Benchmark benchmark.Config `json:"benchmark"`
}

// defaults returns a Config with every tuning field set and no nodes.
func defaults() Config {
	return Config{
		Protocol:        "paxos",
		Transport:       TransportTCP,
		Heartbeat:       Duration(50 * time.Millisecond),
		ElectionTimeout: Duration(500 * time.Millisecond),
		RequestTimeout:  Duration(5 * time.Second),
		Pipeline:        8,
		BatchMax:        512,
		QueueSize:       16384,
		MaxBodyBytes:    1 << 20,
		LogLevel:        "info",
		Benchmark:       benchmark.DefaultConfig(),
	}
}

// DefaultConfig returns the built-in configuration: three Multi-Paxos nodes
// in zone 1 on loopback, transport ports 1735-1737, REST ports 8081-8083
// and native ports 9081-9083.
func DefaultConfig() *Config {
	c := defaults()
	c.SetLocal(3, 1, 1735, 8081)
	return &c
}

// NativePortOffset is how far above its REST port SetLocal puts a node's
// native port.
const NativePortOffset = 1000

// SetLocal replaces the node list with n nodes spread over the given number
// of zones (round-robin: 1.1, 2.1, 3.1, 1.2, ...; one zone puts them all in
// zone 1), listening on loopback from the given ports upwards; the native
// protocol listens NativePortOffset above each REST port.
func (c *Config) SetLocal(n, zones, port, httpPort int) {
	c.Addrs = make(map[ID]string, n)
	c.HTTPAddrs = make(map[ID]string, n)
	c.NativeAddrs = make(map[ID]string, n)
	if zones < 1 {
		zones = 1
	}
	for i := range n {
		id := NewID(i%zones+1, i/zones+1)
		c.Addrs[id] = fmt.Sprintf("127.0.0.1:%d", port+i)
		c.HTTPAddrs[id] = fmt.Sprintf("http://127.0.0.1:%d", httpPort+i)
		c.NativeAddrs[id] = fmt.Sprintf("127.0.0.1:%d", httpPort+NativePortOffset+i)
	}
}

// LoadConfig reads a JSON configuration file. Fields the file leaves out keep
// their defaults (except the node lists, which the file must give); unknown
// fields are an error, so a misspelt key is never silently ignored. The
// result is validated.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("paxi: load config: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("paxi: load config %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes and validates a JSON configuration, as LoadConfig.
func ParseConfig(b []byte) (*Config, error) {
	c := defaults()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrBadConfig)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks the configuration and reports every problem at once, each
// naming the field and the bound. It also normalises addresses (drops a
// transport scheme prefix). It does not check protocol-specific rules: see
// paxi.Protocol.Validate.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if c.Protocol == "" {
		bad("protocol is empty: name a protocol, e.g. \"paxos\"")
	}
	switch c.Transport {
	case TransportTCP, TransportUDP, TransportChan:
	default:
		bad("transport = %q: must be %q, %q or %q", c.Transport, TransportTCP, TransportUDP, TransportChan)
	}
	if len(c.Addrs) == 0 {
		bad("address is empty: list every node, e.g. {\"1.1\": \"127.0.0.1:1735\"}")
	}
	seen := map[string]ID{}
	for _, id := range c.IDs() {
		a := c.Addrs[id]
		if scheme, rest, ok := strings.Cut(a, "://"); ok {
			if c.Transport != TransportChan && scheme != c.Transport {
				bad("address.%v = %q: scheme %q does not match transport %q", id, a, scheme, c.Transport)
			}
			a = rest
			c.Addrs[id] = a
		}
		if c.Transport != TransportChan {
			if _, _, err := net.SplitHostPort(a); err != nil || a == "" {
				bad("address.%v = %q: want host:port", id, a)
			}
		}
		if other, dup := seen[a]; dup {
			bad("address.%v = %q: already used by node %v", id, a, other)
		}
		seen[a] = id
		if _, ok := c.HTTPAddrs[id]; !ok {
			bad("http_address.%v is missing: every node needs a REST address", id)
		}
	}
	seenHTTP := map[string]ID{}
	for _, id := range SortIDs(mapKeys(c.HTTPAddrs)) {
		h := c.HTTPAddrs[id]
		if _, ok := c.Addrs[id]; !ok {
			bad("http_address.%v: node has no address entry", id)
		}
		u, err := url.Parse(h)
		if err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			bad("http_address.%v = %q: want http://host:port", id, h)
			continue
		}
		if other, dup := seenHTTP[u.Host]; dup {
			bad("http_address.%v = %q: already used by node %v", id, h, other)
		}
		seenHTTP[u.Host] = id
		if c.AdminToken == "" && !isLoopback(u.Hostname()) {
			bad("admin_token is empty but http_address.%v = %q is not a loopback address: set a token to guard the fault-injection endpoints", id, h)
		}
	}
	seenNative := map[string]ID{}
	for _, id := range SortIDs(mapKeys(c.NativeAddrs)) {
		a := c.NativeAddrs[id]
		if _, ok := c.Addrs[id]; !ok {
			bad("native_address.%v: node has no address entry", id)
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad("native_address.%v = %q: want host:port", id, a)
		}
		if other, dup := seenNative[a]; dup {
			bad("native_address.%v = %q: already used by node %v", id, a, other)
		}
		seenNative[a] = id
	}
	if c.Heartbeat <= 0 {
		bad("heartbeat = %v: must be positive", c.Heartbeat)
	}
	if c.ElectionTimeout < 3*c.Heartbeat {
		bad("election_timeout = %v: must be at least 3 heartbeats (%v)", c.ElectionTimeout, 3*c.Heartbeat)
	}
	if c.RequestTimeout <= 0 {
		bad("request_timeout = %v: must be positive", c.RequestTimeout)
	}
	if c.Pipeline < 1 || c.Pipeline > 1<<16 {
		bad("pipeline = %d: must be in [1,65536]", c.Pipeline)
	}
	if c.BatchMax < 1 || c.BatchMax > 1<<16 {
		bad("batch_max = %d: must be in [1,65536]", c.BatchMax)
	}
	if c.QueueSize < 1 || c.QueueSize > 1<<24 {
		bad("queue_size = %d: must be in [1,16777216]", c.QueueSize)
	}
	if c.MaxBodyBytes < 1 || c.MaxBodyBytes > 1<<30 {
		bad("max_body_bytes = %d: must be in [1,1073741824]", c.MaxBodyBytes)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		bad("log_level = %q: must be debug, info, warn or error", c.LogLevel)
	}
	if c.WAN != nil {
		errs = append(errs, c.WAN.validate(c.Zones())...)
	}
	errs = append(errs, c.Quorum.validate(c.N())...)
	errs = append(errs, c.WPaxos.validate()...)
	errs = append(errs, c.RDMA.validate()...)
	if err := c.Benchmark.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n%w", ErrBadConfig, errors.Join(errs...))
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func mapKeys[V any](m map[ID]V) []ID {
	ids := make([]ID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	return ids
}

// IDs returns every node's ID, sorted.
func (c *Config) IDs() []ID { return SortIDs(mapKeys(c.Addrs)) }

// N returns the number of nodes.
func (c *Config) N() int { return len(c.Addrs) }

// Zones returns the zone numbers in use, sorted.
func (c *Config) Zones() []int {
	var zs []int
	for _, id := range c.IDs() {
		if !slices.Contains(zs, id.Zone()) {
			zs = append(zs, id.Zone())
		}
	}
	slices.Sort(zs)
	return zs
}

// ZoneNodes returns the nodes of zone z, sorted.
func (c *Config) ZoneNodes(z int) []ID {
	var ids []ID
	for _, id := range c.IDs() {
		if id.Zone() == z {
			ids = append(ids, id)
		}
	}
	return ids
}

// HTTPHost returns host:port of a node's REST address.
func (c *Config) HTTPHost(id ID) string {
	u, err := url.Parse(c.HTTPAddrs[id])
	if err != nil {
		return ""
	}
	return u.Host
}

// Clone returns a deep copy.
func (c *Config) Clone() *Config {
	d := *c
	d.Addrs = make(map[ID]string, len(c.Addrs))
	for k, v := range c.Addrs {
		d.Addrs[k] = v
	}
	d.HTTPAddrs = make(map[ID]string, len(c.HTTPAddrs))
	for k, v := range c.HTTPAddrs {
		d.HTTPAddrs[k] = v
	}
	if c.NativeAddrs != nil {
		d.NativeAddrs = make(map[ID]string, len(c.NativeAddrs))
		for k, v := range c.NativeAddrs {
			d.NativeAddrs[k] = v
		}
	}
	if c.WAN != nil {
		w := *c.WAN
		w.RTT = nil
		for _, row := range c.WAN.RTT {
			w.RTT = append(w.RTT, append([]Duration(nil), row...))
		}
		d.WAN = &w
	}
	return &d
}
