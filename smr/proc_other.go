//go:build !linux

package smr

import (
	"os/exec"
	"syscall"
)

// dieWithParent has no portable equivalent outside Linux: a server started
// there outlives a replica that is killed, and must be stopped by hand.
func dieWithParent() *syscall.SysProcAttr { return nil }

func startLocked(cmd *exec.Cmd) error { return cmd.Start() }
