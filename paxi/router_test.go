package paxi_test

import (
	"errors"
	"testing"

	"github.com/ailidani/paxi-style/paxi"
)

type ping struct{ N int }

func (p ping) String() string { return "ping" }

type pong struct{}

func (pong) String() string { return "pong" }

func TestRouterDispatchesByType(t *testing.T) {
	var r paxi.Router
	var got []int
	paxi.Handle(&r, func(from paxi.ID, m ping) { got = append(got, m.N) })
	if err := r.Step(paxi.MustID("1.1"), ping{N: 4}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != 4 {
		t.Fatalf("handler got %v", got)
	}
	if err := r.Step(paxi.MustID("1.1"), pong{}); !errors.Is(err, paxi.ErrUnknownMessage) {
		t.Fatalf("unregistered type: err = %v", err)
	}
}

func TestRouterDuplicateRegistrationPanics(t *testing.T) {
	var r paxi.Router
	paxi.Handle(&r, func(paxi.ID, ping) {})
	defer func() {
		if recover() == nil {
			t.Fatal("second registration of ping did not panic")
		}
	}()
	paxi.Handle(&r, func(paxi.ID, ping) {})
}
