package smr

import (
	"os/exec"
	"runtime"
	"syscall"
)

// dieWithParent asks Linux to kill the server when the process that started
// it dies, so that killing a replica (the fault tests SIGKILL it) takes its
// server along instead of leaving it holding the port.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// startLocked starts cmd from a locked OS thread: Pdeathsig fires when the
// thread that forked the child exits, and Go does not otherwise promise to
// keep a thread alive. The runtime only ends a thread whose goroutine exits
// while locked, which this function never does.
func startLocked(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return cmd.Start()
}
