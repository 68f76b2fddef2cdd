package fpaxos

import (
	"fmt"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/paxos"
	"github.com/ailidani/paxi-style/quorum"
)

// Protocol is the protocol-table entry for Flexible Paxos.
func Protocol() paxi.Protocol {
	return paxi.Protocol{
		Name:     "fpaxos",
		New:      New,
		Recover:  Recover,
		Messages: paxos.Messages,
		Validate: Validate,
	}
}

// options builds the Paxos options the configuration asks for.
func options(cfg *paxi.Config) (paxos.Options, error) {
	q, err := quorum.FromConfig(cfg.IDs(), cfg.Quorum)
	if err != nil {
		return paxos.Options{}, err
	}
	return paxos.Options{Quorums: q, Thrifty: cfg.Quorum.Thrifty}, nil
}

// Validate rejects quorum configurations whose phase-1 and phase-2 quorums
// can miss each other.
func Validate(cfg *paxi.Config) error {
	if _, err := options(cfg); err != nil {
		return fmt.Errorf("quorum: %w", err)
	}
	return nil
}

// New creates a Flexible Paxos replica with the configured quorums.
func New(env paxi.Env) (paxi.Replica, error) {
	opts, err := options(env.Config())
	if err != nil {
		return nil, fmt.Errorf("fpaxos: %w", err)
	}
	return paxos.NewWithOptions(env, opts)
}

// Recover recreates a replica after a crash from its durable state.
func Recover(env paxi.Env, durable any) (paxi.Replica, error) {
	opts, err := options(env.Config())
	if err != nil {
		return nil, fmt.Errorf("fpaxos: %w", err)
	}
	p, err := paxos.NewWithOptions(env, opts)
	if err != nil {
		return nil, err
	}
	return p, p.Restore(durable)
}
