package paxi

import (
	"fmt"
	"reflect"
)

// Router dispatches messages to handlers registered per message type, the
// ergonomics of the original Paxi with the types checked at compile time. The
// zero value is ready to use. A protocol keeps a Router and implements
// Replica.Step by calling Router.Step.
type Router struct {
	handlers map[reflect.Type]func(from ID, m Message)
}

// Handle registers f as the handler of messages of type M. Registering a type
// twice panics: it is a wiring bug.
func Handle[M Message](r *Router, f func(from ID, m M)) {
	t := reflect.TypeFor[M]()
	if r.handlers == nil {
		r.handlers = make(map[reflect.Type]func(ID, Message))
	}
	if _, dup := r.handlers[t]; dup {
		panic(fmt.Sprintf("paxi: handler for %v registered twice", t))
	}
	r.handlers[t] = func(from ID, m Message) { f(from, m.(M)) }
}

// Step calls the handler registered for m's type. It returns an error wrapping
// ErrUnknownMessage if there is none.
func (r *Router) Step(from ID, m Message) error {
	h, ok := r.handlers[reflect.TypeOf(m)]
	if !ok {
		return fmt.Errorf("%w: %T from %v", ErrUnknownMessage, m, from)
	}
	h(from, m)
	return nil
}
