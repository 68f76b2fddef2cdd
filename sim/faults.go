package sim

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ailidani/paxi-style/paxi"
)

// Faults is the random fault process of the safety phase. Every Tick it
// may crash a node, start a partition or spoil a link, each for a random
// time (exponentially distributed around the given mean). Zero
// probabilities turn a kind of fault off.
type Faults struct {
	// Tick is how often the fault process acts; 0 means 100ms.
	Tick time.Duration
	// CrashProbability is the chance, per tick and live node, of a crash;
	// the node restarts after CrashTime on average. At most MaxDown nodes
	// are down at once (0: a minority).
	CrashProbability float64
	CrashTime        time.Duration
	MaxDown          int
	// PartitionProbability is the chance, per tick when none is active, of a
	// partition lasting PartitionTime on average: one node isolated, or the
	// nodes split in two at random. With OneWayProbability it cuts only one
	// direction.
	PartitionProbability float64
	PartitionTime        time.Duration
	OneWayProbability    float64
	// LinkProbability is the chance, per tick, that a random directed link
	// turns slow (up to SlowDelay extra) or flaky (loses up to FlakyLoss of
	// its messages) for LinkTime on average.
	LinkProbability float64
	LinkTime        time.Duration
	SlowDelay       time.Duration
	FlakyLoss       float64
}

// String prints the fault mix on one line, deterministically.
func (f Faults) String() string {
	return fmt.Sprintf("crash=%.3f/%v(max %d) partition=%.3f/%v(oneway %.2f) link=%.3f/%v(slow %v, flaky %.2f)",
		f.CrashProbability, f.CrashTime, f.MaxDown, f.PartitionProbability, f.PartitionTime,
		f.OneWayProbability, f.LinkProbability, f.LinkTime, f.SlowDelay, f.FlakyLoss)
}

// faultProcess drives Faults until stopped.
type faultProcess struct {
	c         *Cluster
	f         Faults
	rng       *rand.Rand
	stopped   bool
	partition bool
}

func (c *Cluster) startFaults(f Faults, seed uint64) *faultProcess {
	if f.Tick <= 0 {
		f.Tick = 100 * time.Millisecond
	}
	if f.MaxDown <= 0 {
		f.MaxDown = (len(c.ids) - 1) / 2
	}
	fp := &faultProcess{c: c, f: f, rng: rand.New(rand.NewPCG(seed, 0xfa17))}
	c.After(f.Tick, fp.tick)
	return fp
}

// exp draws an exponential duration with the given mean (at least 1ms).
func (fp *faultProcess) exp(mean time.Duration) time.Duration {
	return max(time.Millisecond, time.Duration(fp.rng.ExpFloat64()*float64(mean)))
}

func (fp *faultProcess) tick() {
	if fp.stopped {
		return
	}
	c, f, rng := fp.c, fp.f, fp.rng
	defer c.After(f.Tick, fp.tick)
	if f.CrashProbability > 0 {
		for _, id := range c.ids {
			down := 0
			for _, n := range c.nodes {
				if n.down {
					down++
				}
			}
			if !c.nodes[id].down && down < f.MaxDown && rng.Float64() < f.CrashProbability {
				c.CrashFor(id, fp.exp(f.CrashTime))
			}
		}
	}
	if f.PartitionProbability > 0 && !fp.partition && rng.Float64() < f.PartitionProbability {
		fp.partition = true
		d := fp.exp(f.PartitionTime)
		oneWay := rng.Float64() < f.OneWayProbability
		var side []paxi.ID
		if rng.IntN(2) == 0 {
			side = []paxi.ID{c.ids[rng.IntN(len(c.ids))]} // isolate one node
		} else {
			for _, id := range c.ids {
				if rng.IntN(2) == 0 {
					side = append(side, id)
				}
			}
		}
		for _, a := range side {
			for _, b := range c.ids {
				if contains(side, b) {
					continue
				}
				c.Drop(a, b, d)
				if !oneWay {
					c.Drop(b, a, d)
				}
			}
		}
		c.After(d, func() { fp.partition = false })
	}
	if f.LinkProbability > 0 && len(c.ids) > 1 && rng.Float64() < f.LinkProbability {
		from := c.ids[rng.IntN(len(c.ids))]
		to := c.ids[rng.IntN(len(c.ids))]
		if from != to {
			d := fp.exp(f.LinkTime)
			if rng.IntN(2) == 0 && f.SlowDelay > 0 {
				c.Slow(from, to, time.Duration(rng.Int64N(int64(f.SlowDelay)+1)), d)
			} else if f.FlakyLoss > 0 {
				c.Flaky(from, to, rng.Float64()*f.FlakyLoss, d)
			}
		}
	}
}

func contains(ids []paxi.ID, id paxi.ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
