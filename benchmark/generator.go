package benchmark

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

// Op is one generated operation.
type Op struct {
	// Key is the key to read or write.
	Key int
	// Write is true for a write (put) and false for a read (get).
	Write bool
}

// Generator draws the operations of one client from the configured
// distribution. Each client owns one, so it needs no locking; its sequence
// depends only on the configuration, the seed, the client's index and zone,
// and the elapsed times passed to Next, so a run's workload is reproducible.
type Generator struct {
	dist      string
	k, min    int
	w         float64
	conflicts int
	rng       *rand.Rand
	uniform   distuv.Uniform
	normal    distuv.Normal
	exp       distuv.Exponential
	zipf      *rand.Zipf
	mu        float64       // the zone's mean at time 0, for "normal"
	speed     time.Duration // how long the mean stays on a key; 0: it does not move
	pos       int           // next position of the "order" walk, relative to min
	stride    int           // how far the walk advances per operation
}

// NewGenerator returns the generator of client (0 .. cfg.Concurrency-1),
// which belongs to zone (numbered from 1; it picks the client's mean under
// the "normal" distribution). Clients of one run share the seed and differ by
// index.
func NewGenerator(cfg Config, seed uint64, client, zone int) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	src := rand.NewPCG(seed, uint64(client))
	g := &Generator{
		dist:      distribution(cfg.Distribution),
		k:         cfg.K,
		min:       cfg.Min,
		w:         cfg.W,
		conflicts: cfg.Conflicts,
		rng:       rand.New(src),
		// The order walk gives client i the keys i, i+C, i+2C, ...: round j
		// of all C clients covers one block of C consecutive keys, which is
		// the sequence Paxi's single shared counter produces, made
		// deterministic per client.
		pos:    client % cfg.K,
		stride: cfg.Concurrency % cfg.K,
	}
	if cfg.ZoneKeys && zone > 1 {
		g.min += (zone - 1) * cfg.K
	}
	switch g.dist {
	case Uniform:
		g.uniform = distuv.Uniform{Min: 0, Max: float64(cfg.K), Src: src}
	case Normal:
		mu, err := cfg.Mu.Zone(zone)
		if err != nil {
			return nil, err
		}
		g.mu = mu
		g.normal = distuv.Normal{Mu: mu, Sigma: cfg.Sigma, Src: src}
		if cfg.Move {
			g.speed = time.Duration(cfg.Speed)
		}
	case Exponential:
		g.exp = distuv.Exponential{Rate: cfg.Lambda, Src: src}
	case Zipfian:
		// gonum has no Zipf distribution; the standard library's is exact
		// and as fast.
		g.zipf = rand.NewZipf(g.rng, cfg.ZipfianS, cfg.ZipfianV, uint64(cfg.K-1))
		if g.zipf == nil {
			return nil, fmt.Errorf("benchmark: zipfian s=%g v=%g: invalid parameters", cfg.ZipfianS, cfg.ZipfianV)
		}
	}
	return g, nil
}

// Mu returns the mean of the "normal" distribution after elapsed time of
// the run: the zone's mean, moved one key per Speed when Move is set.
func (g *Generator) Mu(elapsed time.Duration) float64 {
	if g.speed <= 0 || elapsed <= 0 {
		return g.mu
	}
	return math.Mod(g.mu+float64(elapsed/g.speed), float64(g.k))
}

// Next returns the next operation; elapsed is the time since the run
// started, which moves the mean of a moving "normal" distribution.
func (g *Generator) Next(elapsed time.Duration) Op {
	var k int
	switch g.dist {
	case Uniform:
		k = min(int(g.uniform.Rand()), g.k-1)
	case Order:
		k = g.walk()
	case Conflict:
		if g.rng.IntN(100) < g.conflicts {
			return Op{Key: 0, Write: g.rng.Float64() < g.w}
		}
		k = g.walk()
	case Normal:
		g.normal.Mu = g.Mu(elapsed)
		k = wrap(g.normal.Rand(), g.k)
	case Exponential:
		k = wrap(g.exp.Rand(), g.k)
	case Zipfian:
		k = int(g.zipf.Uint64())
	}
	return Op{Key: g.min + k, Write: g.rng.Float64() < g.w}
}

func (g *Generator) walk() int {
	k := g.pos
	g.pos += g.stride
	if g.pos >= g.k {
		g.pos -= g.k
	}
	return k
}

// wrap maps a real-valued draw onto the keys 0 .. k-1: its integer part
// modulo k, so a distribution's tails fold back onto the key space rather
// than piling up on the first or last key.
func wrap(x float64, k int) int {
	i := math.Mod(math.Floor(x), float64(k))
	if i < 0 {
		i += float64(k)
	}
	return min(int(i), k-1)
}

// valueAlphabet is printable and URL-safe, so values read well in curl
// output and histories; 64 characters, so that 6 random bits pick one.
const valueAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"

// FillValue fills b with the value that client writes in its seq-th
// operation of a run with the given seed: "<client>.<seq>." in base 36, then
// filler derived from the three. Values are unique per write (when b is
// long enough for the prefix) and can be recomputed from a record, so the
// recorder never stores them.
func FillValue(b []byte, seed uint64, client int, seq int64) {
	var p [32]byte
	pre := strconv.AppendInt(p[:0], int64(client), 36)
	pre = append(pre, '.')
	pre = strconv.AppendInt(pre, seq, 36)
	pre = append(pre, '.')
	n := copy(b, pre)
	x := seed ^ uint64(client)*0x9e3779b97f4a7c15 ^ uint64(seq)*0xbf58476d1ce4e5b9
	for i := n; i < len(b); {
		// splitmix64: a cheap, well-mixed stream; ten characters a step.
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		z ^= z >> 31
		for j := 0; j < 10 && i < len(b); j++ {
			b[i] = valueAlphabet[z&63]
			z >>= 6
			i++
		}
	}
}
