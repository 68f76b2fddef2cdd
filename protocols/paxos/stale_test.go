package paxos_test

import (
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/paxos"
	"github.com/ailidani/paxi-style/store"
)

// outbox is a paxi.Env that records what one replica sends, for driving it
// message by message.
type outbox struct {
	id    paxi.ID
	cfg   *paxi.Config
	sent  []sent
	rng   *rand.Rand
	store *store.Store
}

type sent struct {
	to paxi.ID
	m  paxi.Message
}

func (o *outbox) ID() paxi.ID                           { return o.id }
func (o *outbox) Config() *paxi.Config                  { return o.cfg }
func (o *outbox) Peers() []paxi.ID                      { return o.cfg.IDs() }
func (o *outbox) Send(to paxi.ID, m paxi.Message)       { o.sent = append(o.sent, sent{to, m}) }
func (o *outbox) Broadcast(m paxi.Message)              { o.sent = append(o.sent, sent{0, m}) }
func (o *outbox) Multicast(_ []paxi.ID, m paxi.Message) { o.sent = append(o.sent, sent{0, m}) }
func (o *outbox) MulticastZone(_ int, m paxi.Message)   { o.sent = append(o.sent, sent{0, m}) }
func (o *outbox) Reply(paxi.Request, paxi.Reply)        {}
func (o *outbox) After(time.Duration, paxi.Message) paxi.TimerID {
	return 0
}
func (o *outbox) Cancel(paxi.TimerID)  {}
func (o *outbox) Now() time.Time       { return time.Unix(0, 0) }
func (o *outbox) Rand() *rand.Rand     { return o.rng }
func (o *outbox) Store() *store.Store  { return o.store }
func (o *outbox) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Regression: an acceptor that promised ballot b3 of node L answered a late
// P1a or P2a of L's older ballot b1 with a rejection carrying b3, which L,
// now campaigning or leading at b3, counted as a promise (with an empty
// log) or as an acceptance it never got. Phase-1 quorums then missed
// accepted values and phase-2 quorums counted votes never cast; the WPaxos
// simulation, whose owners campaign again and again, committed two values
// in one slot. Such messages now get no answer; other senders still get
// the rejection.
func TestNoRejectionToOwnersOlderBallot(t *testing.T) {
	cfg := config(3)
	env := &outbox{id: n2, cfg: cfg, rng: rand.New(rand.NewPCG(1, 1)), store: store.New()}
	p, err := paxos.NewWithOptions(env, paxos.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b1 := paxi.NewBallot(1, n1)
	b3 := paxi.NewBallot(3, n1)
	if err := p.Step(n1, paxos.P1a{Ballot: b3}); err != nil {
		t.Fatal(err)
	}
	env.sent = nil
	late := []paxi.Message{
		paxos.P1a{Ballot: b1},
		paxos.P2a{Ballot: b1, Slot: 0, Commands: []paxi.Command{{Op: paxi.Put, Key: "k", Value: []byte("v")}}},
	}
	for _, m := range late {
		if err := p.Step(n1, m); err != nil {
			t.Fatal(err)
		}
		if len(env.sent) != 0 {
			t.Fatalf("late %v from the owner of %v answered with %v", m, b3, env.sent)
		}
	}
	other := paxos.P2a{Ballot: paxi.NewBallot(2, n3), Slot: 0}
	if err := p.Step(n3, other); err != nil {
		t.Fatal(err)
	}
	if len(env.sent) != 1 || env.sent[0].m != (paxos.P2b{Ballot: b3, Slot: 0}) {
		t.Fatalf("%v from another node answered with %v, want a rejection carrying %v", other, env.sent, b3)
	}
}
