package main

import (
	"fmt"
	"io"

	"github.com/ailidani/paxi-style/protocols"
)

func runProtocols(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("protocols", "Lists the protocols this binary can run, one per line.", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, n := range protocols.Names() {
		fmt.Fprintln(stdout, n)
	}
	return nil
}
