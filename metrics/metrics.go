// Package metrics exposes a node's Prometheus metrics: client requests and
// their latency, commands executed, protocol messages sent and received by
// type, and what the replica believes about leadership.
//
// Counting sits on the node's hot path (every message, every request), so
// every counter a message can touch is created when the node starts, one
// per message type the protocol declares, and found by the message's
// dynamic type in a map that is never written again: counting a message is
// a map lookup and an atomic add, with no allocation, no label formatting
// and no lock. Leadership, ballot and the number of executed commands are
// not pushed at all: they are read from the node when Prometheus scrapes,
// through a function the node runs on its own event loop, because the
// replica is single-threaded and owned by that loop.
package metrics

import (
	"context"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ailidani/paxi-style/paxi"
)

// Path is where a node's REST port serves the metrics.
const Path = "/metrics"

// State is what a node reports about itself at scrape time.
type State struct {
	// Applied is the number of commands the node's store has executed.
	Applied uint64
	// Waiting is the number of client requests waiting for their reply.
	Waiting int
	// Leader is who the replica believes leads (valid when HasLeader);
	// protocols without a leader leave HasLeader false.
	Leader    paxi.ID
	HasLeader bool
	// Ballot is the replica's current ballot (valid when HasBallot).
	Ballot    paxi.Ballot
	HasBallot bool
}

// StateFunc reads a node's State; the node runs it on its event loop.
type StateFunc func(ctx context.Context) (State, error)

// Node holds one node's metrics. Its methods are safe for concurrent use.
type Node struct {
	id       paxi.ID
	reg      *prometheus.Registry
	requests prometheus.Counter
	failed   prometheus.Counter
	latency  prometheus.Histogram

	// Read-only after New: counting never writes a map.
	sent, received           map[reflect.Type]prometheus.Counter
	sentOther, receivedOther prometheus.Counter
}

// latencyBuckets span a loopback commit (~100 µs) to a request timing out
// across continents (seconds).
var latencyBuckets = prometheus.ExponentialBuckets(50e-6, 2, 18) // 50 µs .. 6.5 s

// New creates the metrics of node id running the named protocol, whose
// messages are listed in messages (paxi.Protocol.Messages; Request and Reply
// are added). state is read at each scrape, with the scrape's deadline.
func New(id paxi.ID, protocol string, messages []paxi.Message, state StateFunc) *Node {
	labels := prometheus.Labels{"node": id.String(), "zone": strconv.Itoa(id.Zone()), "protocol": protocol}
	m := &Node{id: id, reg: prometheus.NewRegistry()}
	f := func(opts prometheus.Opts) prometheus.Opts { opts.ConstLabels = labels; return opts }
	m.requests = prometheus.NewCounter(prometheus.CounterOpts(f(prometheus.Opts{
		Name: "paxi_requests_total", Help: "Client requests (REST and native) submitted to this node."})))
	m.failed = prometheus.NewCounter(prometheus.CounterOpts(f(prometheus.Opts{
		Name: "paxi_requests_failed_total", Help: "Client requests that ended in an error (timeout, node stopped, command rejected)."})))
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "paxi_request_duration_seconds", Help: "Time from a request's submission to its reply at this node.",
		ConstLabels: labels, Buckets: latencyBuckets})
	sent := prometheus.NewCounterVec(prometheus.CounterOpts(f(prometheus.Opts{
		Name: "paxi_messages_sent_total", Help: "Protocol messages handed to the transport, by type."})), []string{"type"})
	received := prometheus.NewCounterVec(prometheus.CounterOpts(f(prometheus.Opts{
		Name: "paxi_messages_received_total", Help: "Protocol messages received from other nodes, by type."})), []string{"type"})
	m.sent, m.received = map[reflect.Type]prometheus.Counter{}, map[reflect.Type]prometheus.Counter{}
	all := append([]paxi.Message{paxi.Request{}, paxi.Reply{}}, messages...)
	for _, msg := range all {
		t := reflect.TypeOf(msg)
		name := typeName(t)
		m.sent[t] = sent.WithLabelValues(name)
		m.received[t] = received.WithLabelValues(name)
		if t.Kind() != reflect.Pointer {
			// A protocol may send &M{} for a registered M{}: count both.
			m.sent[reflect.PointerTo(t)] = m.sent[t]
			m.received[reflect.PointerTo(t)] = m.received[t]
		}
	}
	m.sentOther = sent.WithLabelValues("other")
	m.receivedOther = received.WithLabelValues("other")
	m.reg.MustRegister(m.requests, m.failed, m.latency, sent, received,
		newStateCollector(id, labels, state),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// typeName is a message type's label: "paxos.P2a".
func typeName(t reflect.Type) string {
	return strings.TrimPrefix(t.String(), "*")
}

// Request records a client request submitted at start that has just been
// answered (err nil) or has failed.
func (m *Node) Request(start time.Time, err error) {
	m.requests.Inc()
	if err != nil {
		m.failed.Inc()
	}
	m.latency.Observe(time.Since(start).Seconds())
}

// Sent counts a message handed to the transport for another node.
func (m *Node) Sent(msg paxi.Message) {
	if c, ok := m.sent[reflect.TypeOf(msg)]; ok {
		c.Inc()
		return
	}
	m.sentOther.Inc()
}

// Received counts a message received from another node.
func (m *Node) Received(msg paxi.Message) {
	if c, ok := m.received[reflect.TypeOf(msg)]; ok {
		c.Inc()
		return
	}
	m.receivedOther.Inc()
}

// Handler serves the metrics in the Prometheus text format.
func (m *Node) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Wrap returns h with Path answered by the metrics. Wrapping, rather than a
// route in the REST router, keeps the metrics out of the key space's
// catch-all route; the key "metrics" stays reachable as /kv/metrics.
func (m *Node) Wrap(h http.Handler) http.Handler {
	metrics := m.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == Path && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			metrics.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Gatherer returns the node's registry, for tests and for embedding the
// metrics in another registry.
func (m *Node) Gatherer() prometheus.Gatherer { return m.reg }
