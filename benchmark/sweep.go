package benchmark

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// SweepPoint is the outcome of one concurrency level of a sweep.
type SweepPoint struct {
	// Concurrency is the number of clients.
	Concurrency int
	// Summary is what the level measured.
	Summary Summary
}

// SweepOptions say which concurrency levels a sweep tries and when it
// decides the system is saturated. Zero values take the defaults.
type SweepOptions struct {
	// Levels are the concurrency levels to try, in increasing order. Empty:
	// 1, 2, 4, ... up to Max.
	Levels []int
	// Max is the last level of the doubling sequence (default 1024).
	Max int
	// Gain is the relative throughput gain below which a level does not
	// count as an improvement (default 0.05: 5 %).
	Gain float64
	// Patience is how many levels in a row without improvement end the
	// sweep (default 2): one flat level can be noise.
	Patience int
	// LatencyFactor ends the sweep when a level's median latency exceeds
	// this multiple of the first level's (default 50; negative: never). It
	// catches a system whose latency explodes while its throughput is
	// still creeping up. The default is high because consensus protocols
	// batch: one client sees a latency far below the per-request cost
	// under load, so a small factor (10, "90 % utilisation" for a simple
	// queue) would stop a sweep well before saturation.
	LatencyFactor float64
	// MaxP99 ends the sweep after the first level whose p99 latency exceeds
	// it (0: no limit), for sweeps against a latency objective.
	MaxP99 time.Duration
	// MaxErrorRate ends the sweep after a level where more than this
	// fraction of requests failed (default 0.01; negative: never): an
	// overloaded system that sheds load is saturated too.
	MaxErrorRate float64
	// Exhaustive runs every level, recording where saturation was seen
	// without stopping there.
	Exhaustive bool
	// Each, if not nil, is called after each level, e.g. to print it.
	Each func(SweepPoint)
}

// SweepResult is a finished sweep.
type SweepResult struct {
	// Points has one entry per level run, in order.
	Points []SweepPoint
	// Knee is the index in Points of the saturation point: the last level
	// that raised throughput by at least Gain over every level before it.
	// Past it, more clients only add latency.
	Knee int
	// Saturated reports whether a stopping rule fired (otherwise the
	// levels ran out first, and Knee is only the best seen).
	Saturated bool
	// Reason says which rule ended the sweep, or that the levels ran out.
	Reason string
}

// KneePoint returns the saturation point.
func (r SweepResult) KneePoint() SweepPoint { return r.Points[r.Knee] }

func (o SweepOptions) withDefaults() SweepOptions {
	if o.Max <= 0 {
		o.Max = 1024
	}
	if len(o.Levels) == 0 {
		for c := 1; c <= o.Max; c *= 2 {
			o.Levels = append(o.Levels, c)
		}
	}
	if o.Gain <= 0 {
		o.Gain = 0.05
	}
	if o.Patience <= 0 {
		o.Patience = 2
	}
	if o.LatencyFactor == 0 {
		o.LatencyFactor = 50
	}
	if o.MaxErrorRate == 0 {
		o.MaxErrorRate = 0.01
	}
	return o
}

// Sweep runs one benchmark per concurrency level, raising it until the
// system saturates: throughput stops rising (less than Gain for Patience
// levels in a row), latency climbs past LatencyFactor or MaxP99, or too
// many requests fail. run performs one level (Run then Summary, usually).
// On an error it returns the levels done so far with the error.
func Sweep(ctx context.Context, opt SweepOptions, run func(ctx context.Context, concurrency int) (Summary, error)) (SweepResult, error) {
	opt = opt.withDefaults()
	var res SweepResult
	flat := 0
	for i, c := range opt.Levels {
		if i > 0 && c <= opt.Levels[i-1] {
			return res, fmt.Errorf("benchmark: sweep levels must increase: %d after %d", c, opt.Levels[i-1])
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		s, err := run(ctx, c)
		if err != nil {
			return res, fmt.Errorf("benchmark: sweep at %d clients: %w", c, err)
		}
		p := SweepPoint{Concurrency: c, Summary: s}
		res.Points = append(res.Points, p)
		if opt.Each != nil {
			opt.Each(p)
		}
		stop := ""
		knee := res.Points[res.Knee].Summary.Overall
		switch {
		case opt.MaxErrorRate > 0 && s.ErrorRate() > opt.MaxErrorRate:
			stop = fmt.Sprintf("%.1f%% of requests failed at %d clients (limit %.1f%%)", 100*s.ErrorRate(), c, 100*opt.MaxErrorRate)
		case opt.MaxP99 > 0 && s.Overall.P99 > opt.MaxP99:
			stop = fmt.Sprintf("p99 latency %.3f ms at %d clients exceeds the limit of %.3f ms", ms(s.Overall.P99), c, ms(opt.MaxP99))
		case i > 0 && opt.LatencyFactor > 0 && s.Overall.P50 > time.Duration(opt.LatencyFactor*float64(res.Points[0].Summary.Overall.P50)):
			stop = fmt.Sprintf("median latency %.3f ms at %d clients is over %g times the %.3f ms at %d", ms(s.Overall.P50), c,
				opt.LatencyFactor, ms(res.Points[0].Summary.Overall.P50), res.Points[0].Concurrency)
		}
		if i > 0 {
			if s.Overall.Throughput >= knee.Throughput*(1+opt.Gain) {
				res.Knee, flat = i, 0
			} else {
				flat++
				if stop == "" && flat >= opt.Patience {
					stop = fmt.Sprintf("throughput gained less than %.0f%% over %.0f ops/s at %d clients for %d levels in a row",
						100*opt.Gain, knee.Throughput, res.Points[res.Knee].Concurrency, flat)
				}
			}
		}
		if stop != "" && !res.Saturated {
			res.Saturated, res.Reason = true, stop
			if !opt.Exhaustive {
				return res, nil
			}
		}
	}
	if !res.Saturated {
		res.Reason = fmt.Sprintf("ran every level up to %d clients without saturating", opt.Levels[len(opt.Levels)-1])
	}
	return res, nil
}

// PrintSweepTable prints one row per level, marking the saturation point,
// then a line saying where and why the sweep stopped.
func PrintSweepTable(w io.Writer, r SweepResult) error {
	var tb bytes.Buffer
	tw := tabwriter.NewWriter(&tb, 0, 0, 2, ' ', tabwriter.AlignRight)
	labels := []string{"label"}
	for _, p := range r.Points {
		labels = append(labels, p.Summary.Label)
	}
	labels = padLabels(labels...)
	fmt.Fprintf(tw, "%s\tclients\t%s\t\n", labels[0], tableHeader)
	for i, p := range r.Points {
		fmt.Fprintf(tw, "%s\t%d\t%s\t", labels[i+1], p.Concurrency, tableRow(p.Summary.Overall))
		if i == r.Knee {
			// After the last tab, so that the mark does not widen a column.
			fmt.Fprint(tw, "  <- knee")
		}
		fmt.Fprintln(tw)
	}
	if err := flushTable(w, tw, &tb); err != nil {
		return err
	}
	if len(r.Points) > 0 {
		k := r.KneePoint()
		verb := "saturated"
		if !r.Saturated {
			verb = "best seen (not saturated)"
		}
		fmt.Fprintf(w, "%s at %d clients: %.0f ops/s, p50 %.3f ms, p99 %.3f ms\nstopped: %s\n", verb, k.Concurrency,
			k.Summary.Overall.Throughput, ms(k.Summary.Overall.P50), ms(k.Summary.Overall.P99), r.Reason)
	}
	return nil
}
