package rdma

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// Profile is the latency model of PROTOCOLS.md §10.3. A work request of
// size bytes posted at t is placed at
//
//	place = t + Post(+PostDMA unless inline) + Wire·jitter + size·PerByte + Resp(op)
//
// and completes at
//
//	complete = place + Ack·jitter + (READ/atomic: size·PerByte) + Poll
//
// where jitter is a log-normal multiplier with median 1 and shape Sigma,
// plus, with probability SpikeProbability, up to Spike more. Same-address
// atomics queue at the responder for AtomicService each; a queue pair has
// at most MaxRdAtomic READs and atomics outstanding; a NIC issues at most
// one request per 1/MsgRate. Every value is a model parameter, not a
// measurement: calibrate against hardware if any appears.
type Profile struct {
	// Name is how options and flags name the profile.
	Name string
	// Post is the requester's posting overhead (doorbell, WQE fetch) with
	// an inline payload; PostDMA is added for a payload the NIC must fetch
	// by DMA. InlineMax is the largest inline payload.
	Post, PostDMA time.Duration
	InlineMax     int
	// Wire is the median one-way latency NIC to NIC (through the switch).
	Wire time.Duration
	// PerByte is the serialisation time of one byte (1/bandwidth).
	PerByte time.Duration
	// PerByteFrac is the fraction of a nanosecond PerByte cannot express
	// (100 Gb/s is 0.08 ns/B): the serialisation time of n bytes is
	// n·PerByte + n·PerByteFrac ns.
	PerByteFrac float64
	// RespWrite, RespRead and RespAtomic are the responder NIC's time to
	// execute a WRITE (or SEND), a READ, and a CAS or FAA.
	RespWrite, RespRead, RespAtomic time.Duration
	// Ack is the median one-way latency of the acknowledgement or response.
	Ack time.Duration
	// Poll is the requester's time from the completion entry to the
	// handler (CQ polling).
	Poll time.Duration
	// PollDetect is how long a thread spinning on local memory takes to see
	// a change: the delay of Changed.
	PollDetect time.Duration
	// Sigma is the log-normal shape of the jitter on Wire and Ack
	// (0: none). 0.24 gives p99 ≈ 1.75 × median.
	Sigma float64
	// SpikeProbability is the chance of a rare extra delay of up to Spike.
	SpikeProbability float64
	Spike            time.Duration
	// AtomicService is the responder's service time per atomic on one
	// address (1/μ_atomic).
	AtomicService time.Duration
	// MaxRdAtomic bounds a queue pair's outstanding READs and atomics.
	MaxRdAtomic int
	// MsgRate is the NIC's message-rate cap, in requests per second (0:
	// none).
	MsgRate float64
	// SendQueue is the send-queue depth of a queue pair.
	SendQueue int
	// AccessChange is the cost of SetRemoteAccess; Connect of Reset→RTS
	// with the connection handshake; RegisterBase and RegisterPerMiB of
	// MR.Reregister (a + b·size).
	AccessChange, Connect        time.Duration
	RegisterBase, RegisterPerMiB time.Duration
	// RCTimeoutExp and RCRetry are the RC transport's timeout exponent and
	// retry count: a dead peer is detected after 4.096 µs · 2^RCTimeoutExp
	// · (RCRetry+1) (RCTimeout).
	RCTimeoutExp, RCRetry int
	// RNRTimeout is how long a SEND or WRITE_WITH_IMM retries when the
	// peer has no receive buffer posted.
	RNRTimeout time.Duration
}

// RCTimeout is the RC transport timeout: how long after posting an
// operation to an unreachable peer fails with RetryExceeded.
func (p Profile) RCTimeout() time.Duration {
	return time.Duration(4096 * (int64(1) << p.RCTimeoutExp) * int64(p.RCRetry+1))
}

// bytesTime is the serialisation time of n bytes.
func (p Profile) bytesTime(n int) time.Duration {
	return time.Duration(n)*p.PerByte + time.Duration(math.Round(float64(n)*p.PerByteFrac))
}

// CX5EDR1Switch is the default profile, "cx5-edr-1switch": a ConnectX-5
// class NIC on 100 Gb/s EDR InfiniBand through one switch, with values
// picked inside the ranges of PROTOCOLS.md §10.3 so that a 64-byte WRITE
// takes ≈1.25 µs round trip, a READ ≈1.65 µs and a CAS ≈1.85 µs at the
// median.
func CX5EDR1Switch() Profile {
	return Profile{
		Name:             "cx5-edr-1switch",
		Post:             100 * time.Nanosecond,
		PostDMA:          300 * time.Nanosecond,
		InlineMax:        256,
		Wire:             500 * time.Nanosecond,
		PerByteFrac:      0.08, // 12.5 GB/s
		RespWrite:        100 * time.Nanosecond,
		RespRead:         500 * time.Nanosecond,
		RespAtomic:       700 * time.Nanosecond,
		Ack:              500 * time.Nanosecond,
		Poll:             50 * time.Nanosecond,
		PollDetect:       100 * time.Nanosecond,
		Sigma:            0.24,
		SpikeProbability: 1e-4,
		Spike:            20 * time.Microsecond,
		AtomicService:    400 * time.Nanosecond, // 2.5 Mops/s per address
		MaxRdAtomic:      16,
		MsgRate:          150e6,
		SendQueue:        128,
		AccessChange:     20 * time.Microsecond,
		Connect:          500 * time.Microsecond,
		RegisterBase:     50 * time.Microsecond,
		RegisterPerMiB:   time.Microsecond, // ≈1 ms per GiB
		RCTimeoutExp:     14,
		RCRetry:          7, // ≈ 0.54 s
		RNRTimeout:       10 * time.Millisecond,
	}
}

// TCPDC is the "tcp-dc" contrast profile: kernel TCP inside one data
// centre rack, ≈20 µs round trip, as if the same verbs ran over sockets.
func TCPDC() Profile {
	p := CX5EDR1Switch()
	p.Name = "tcp-dc"
	p.Post, p.PostDMA = 2*time.Microsecond, 500*time.Nanosecond
	p.InlineMax = 1 << 16
	p.Wire, p.Ack = 6*time.Microsecond, 6*time.Microsecond
	p.PerByteFrac = 0.8 // 10 Gb/s
	p.RespWrite, p.RespRead, p.RespAtomic = 3*time.Microsecond, 3*time.Microsecond, 3*time.Microsecond
	p.Poll, p.PollDetect = 2*time.Microsecond, 2*time.Microsecond
	p.Sigma = 0.4
	p.AtomicService = time.Microsecond
	p.MsgRate = 1e6
	return p
}

// Profiles returns the built-in profiles by name.
func Profiles() map[string]Profile {
	return map[string]Profile{"cx5-edr-1switch": CX5EDR1Switch(), "tcp-dc": TCPDC()}
}

// ProfileByName returns a built-in profile.
func ProfileByName(name string) (Profile, error) {
	p, ok := Profiles()[name]
	if !ok {
		names := make([]string, 0, 2)
		for n := range Profiles() {
			names = append(names, n)
		}
		sort.Strings(names)
		return Profile{}, fmt.Errorf("%w: unknown profile %q: known profiles are %v", ErrBadOptions, name, names)
	}
	return p, nil
}

// Validate checks that every parameter is usable.
func (p Profile) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for name, d := range map[string]time.Duration{"Post": p.Post, "PostDMA": p.PostDMA, "Wire": p.Wire, "PerByte": p.PerByte,
		"RespWrite": p.RespWrite, "RespRead": p.RespRead, "RespAtomic": p.RespAtomic, "Ack": p.Ack, "Poll": p.Poll,
		"PollDetect": p.PollDetect, "Spike": p.Spike, "AtomicService": p.AtomicService, "AccessChange": p.AccessChange,
		"Connect": p.Connect, "RegisterBase": p.RegisterBase, "RegisterPerMiB": p.RegisterPerMiB, "RNRTimeout": p.RNRTimeout} {
		if d < 0 {
			bad("%s = %v: must not be negative", name, d)
		}
	}
	if p.PerByteFrac < 0 || p.Sigma < 0 || p.Sigma > 2 || p.MsgRate < 0 {
		bad("PerByteFrac = %g, Sigma = %g, MsgRate = %g: want PerByteFrac >= 0, Sigma in [0,2], MsgRate >= 0", p.PerByteFrac, p.Sigma, p.MsgRate)
	}
	if p.SpikeProbability < 0 || p.SpikeProbability > 1 {
		bad("SpikeProbability = %g: must be in [0,1]", p.SpikeProbability)
	}
	if p.InlineMax < 0 || p.MaxRdAtomic < 1 || p.SendQueue < 1 {
		bad("InlineMax = %d, MaxRdAtomic = %d, SendQueue = %d: want InlineMax >= 0 and the others >= 1", p.InlineMax, p.MaxRdAtomic, p.SendQueue)
	}
	if p.RCTimeoutExp < 0 || p.RCTimeoutExp > 31 || p.RCRetry < 0 || p.RCRetry > 7 {
		bad("RCTimeoutExp = %d, RCRetry = %d: want [0,31] and [0,7] as in verbs", p.RCTimeoutExp, p.RCRetry)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: profile %q: %w", ErrBadOptions, p.Name, errors.Join(errs...))
	}
	return nil
}

// issueAt is when a work request posted at now leaves the requester's NIC,
// before its queue pair's limits: the post overhead, plus the DMA read of
// the payload unless it is inline.
func (p Profile) issueAt(w WR, now time.Duration) time.Duration {
	issue := now + p.Post
	if carriesPayload(w.Op) && !w.Inline {
		issue += p.PostDMA
	}
	return issue
}

// placeAt is the rest of the latency model of one work request issued at
// issue on a queue pair whose READs and atomics in flight complete at
// reads: a FENCE waits for them, and at most MaxRdAtomic may be
// outstanding; then the wire, the payload's bytes and the responder's
// time. It returns when the first byte lands and how many bytes the
// response carries back. jitter draws the wire's delay. Every backend
// uses it, so their timings cannot drift apart.
func (p Profile) placeAt(w WR, issue time.Duration, reads []time.Duration, jitter func(time.Duration) time.Duration) (place time.Duration, in int) {
	readLike := w.Op == Read || w.Op.atomic()
	if w.Fence && len(reads) > 0 {
		issue = max(issue, slices.Max(reads))
	}
	if readLike && len(reads) >= p.MaxRdAtomic {
		issue = max(issue, reads[len(reads)-p.MaxRdAtomic])
	}
	var out int
	switch {
	case carriesPayload(w.Op):
		out = len(w.Local)
	case w.Op == Read:
		in = len(w.Local)
	default:
		in = 8
	}
	place = issue + jitter(p.Wire) + p.bytesTime(out)
	switch {
	case w.Op == Read:
		place += p.RespRead
	case w.Op.atomic():
		place += p.RespAtomic
	default:
		place += p.RespWrite
	}
	return place, in
}
