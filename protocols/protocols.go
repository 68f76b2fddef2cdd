// Package protocols is the table of every protocol paxi-style can run. Adding
// a protocol means adding one line here; nothing registers itself from an
// init function, so what exists is visible in one place.
package protocols

import (
	"errors"
	"fmt"
	"sort"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/apus"
	"github.com/ailidani/paxi-style/protocols/epaxos"
	"github.com/ailidani/paxi-style/protocols/fpaxos"
	"github.com/ailidani/paxi-style/protocols/mu"
	"github.com/ailidani/paxi-style/protocols/paxos"
	"github.com/ailidani/paxi-style/protocols/vpaxos"
	"github.com/ailidani/paxi-style/protocols/wankeeper"
	"github.com/ailidani/paxi-style/protocols/wpaxos"
)

// table lists the protocols by name.
var table = []paxi.Protocol{
	apus.Protocol(),
	paxos.Protocol(),
	fpaxos.Protocol(),
	epaxos.Protocol(),
	wankeeper.Protocol(),
	wpaxos.Protocol(),
	vpaxos.Protocol(),
	mu.Protocol(),
}

// Lookup returns the protocol called name.
func Lookup(name string) (paxi.Protocol, error) {
	for _, p := range table {
		if p.Name == name {
			return p, nil
		}
	}
	return paxi.Protocol{}, fmt.Errorf("%w %q: known protocols are %v", paxi.ErrUnknownProtocol, name, Names())
}

// Names returns the names of all protocols, sorted.
func Names() []string {
	names := make([]string, len(table))
	for i, p := range table {
		names[i] = p.Name
	}
	sort.Strings(names)
	return names
}

// All returns every protocol in the table.
func All() []paxi.Protocol { return append([]paxi.Protocol(nil), table...) }

// Validate checks cfg completely: the generic rules of paxi.Config.Validate
// and the rules of the protocol it names.
func Validate(cfg *paxi.Config) error {
	err := cfg.Validate()
	p, lerr := Lookup(cfg.Protocol)
	if lerr != nil {
		return errors.Join(err, lerr)
	}
	if err == nil && p.Validate != nil {
		if perr := p.Validate(cfg); perr != nil {
			return fmt.Errorf("%w: %s: %w", paxi.ErrBadConfig, p.Name, perr)
		}
	}
	return err
}
