//go:build linux

package rdma

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// The operating-system part of the shm backend: shared file mappings,
// futexes on them, and whether a process is alive. Linux only; the stdlib
// syscall package has all of it.

// mapFile maps size bytes of the file at path shared, creating it (zeroed)
// or growing it to size first.
func mapFile(path string, size int) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("rdma shm: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("rdma shm: %w", err)
	}
	if fi.Size() < int64(size) {
		if err := f.Truncate(int64(size)); err != nil {
			return nil, fmt.Errorf("rdma shm: size %s: %w", path, err)
		}
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("rdma shm: map %s: %w", path, err)
	}
	return b, nil
}

// openMapped maps an existing file whole, shared; os.ErrNotExist if there
// is none.
func openMapped(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() == 0 {
		return nil, os.ErrNotExist // being created
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("rdma shm: map %s: %w", path, err)
	}
	return b, nil
}

func unmap(b []byte) {
	if b != nil {
		syscall.Munmap(b)
	}
}

// processAlive reports whether process pid exists (running or stopped:
// a stopped process's memory is still served).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

const (
	futexWait = 0
	futexWake = 1
)

// futexWaitWord sleeps while *w == v, at most d. The word is in a shared
// mapping: the wait is not private, so writers in other processes wake it.
func futexWaitWord(w *uint64, v uint64, d time.Duration) {
	// The futex is the word's low half (little-endian): the doorbell is
	// only ever incremented, so its low half changes with it.
	ts := syscall.NsecToTimespec(int64(d))
	syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWait, uintptr(uint32(v)), uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// futexWakeWord wakes the waiters on w.
func futexWakeWord(w *uint64) {
	syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWake, 1<<30, 0, 0, 0)
}

// shmSupported is nil where the shm backend works.
var shmSupported error
