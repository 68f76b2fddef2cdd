package sim

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/ailidani/paxi-style/history"
	"github.com/ailidani/paxi-style/paxi"
)

// Workload is what the simulated clients do: closed-loop clients, each with
// one request outstanding, sending each request to a node chosen at random.
type Workload struct {
	// Clients is the number of clients.
	Clients int
	// Keys is the number of keys ("k0", "k1", ...): few keys, many conflicts.
	Keys int
	// WriteRatio is the fraction of puts; the rest are gets.
	WriteRatio float64
	// Think is the longest pause between a reply and the next request
	// (drawn uniformly).
	Think time.Duration
	// Timeout is how long a client waits for a reply before it gives up
	// (the outcome is then unknown) and moves on.
	Timeout time.Duration
}

// String prints the workload on one line.
func (w Workload) String() string {
	return fmt.Sprintf("clients=%d keys=%d writes=%.2f think=%v timeout=%v", w.Clients, w.Keys, w.WriteRatio, w.Think, w.Timeout)
}

// clients runs a Workload on a cluster and records the history.
type clients struct {
	c       *Cluster
	w       Workload
	rng     *rand.Rand
	history []history.Operation
	states  []clientState
	pending map[uint64]int // handle -> client
	stopped bool
}

type clientState struct {
	name   string
	seq    uint64
	handle uint64 // of the outstanding request (0: none)
	op     history.Operation
}

func (c *Cluster) startClients(w Workload, seed uint64) *clients {
	cl := &clients{c: c, w: w, rng: rand.New(rand.NewPCG(seed, 0xc11e)), pending: map[uint64]int{}}
	c.onReply = cl.reply
	for i := range w.Clients {
		cl.states = append(cl.states, clientState{name: "c" + strconv.Itoa(i)})
		cl.schedule(i)
	}
	return cl
}

// schedule issues client i's next request after a think time.
func (cl *clients) schedule(i int) {
	think := time.Duration(0)
	if cl.w.Think > 0 {
		think = time.Duration(cl.rng.Int64N(int64(cl.w.Think) + 1))
	}
	cl.c.After(think, func() { cl.issue(i) })
}

func (cl *clients) issue(i int) {
	if cl.stopped {
		return
	}
	c, st := cl.c, &cl.states[i]
	st.seq++
	at := c.ids[cl.rng.IntN(len(c.ids))]
	key := "k" + strconv.Itoa(cl.rng.IntN(cl.w.Keys))
	cmd := paxi.Command{Op: paxi.Get, Key: key, ClientID: st.name, CommandID: st.seq}
	st.op = history.Operation{Client: st.name, Kind: history.Get, Key: key, Call: int64(c.Now()), Node: at.String()}
	if cl.rng.Float64() < cl.w.WriteRatio {
		v := []byte(st.name + "." + strconv.FormatUint(st.seq, 10))
		cmd.Op, cmd.Value = paxi.Put, v
		st.op.Kind, st.op.Input = history.Put, v
	}
	h := c.Submit(at, cmd)
	st.handle = h
	cl.pending[h] = i
	c.After(cl.w.Timeout, func() {
		if st.handle != h || cl.stopped {
			return
		}
		cl.finish(i, "timeout")
		cl.schedule(i)
	})
}

// finish records client i's outstanding operation, failed if err is set.
func (cl *clients) finish(i int, err string) {
	st := &cl.states[i]
	delete(cl.pending, st.handle)
	st.handle = 0
	st.op.Return = int64(cl.c.Now())
	st.op.Error = err
	cl.history = append(cl.history, st.op)
}

func (cl *clients) reply(h uint64, r paxi.Reply) {
	i, ok := cl.pending[h]
	if !ok || cl.stopped {
		return // the client gave up already
	}
	st := &cl.states[i]
	if st.op.Kind == history.Get && r.Err == "" {
		st.op.Found = r.Result.Found
		if r.Result.Found {
			st.op.Output = r.Result.Value
		}
	}
	cl.finish(i, r.Err)
	cl.schedule(i)
}

// stop stops issuing requests; requests still outstanding are recorded as
// failed: their outcome is unknown.
func (cl *clients) stop() {
	cl.stopped = true
	for i := range cl.states {
		if cl.states[i].handle != 0 {
			cl.finish(i, "run ended")
		}
	}
}
