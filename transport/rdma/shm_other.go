//go:build !linux

package rdma

import (
	"errors"
	"time"
)

// shmSupported says why the shm backend does not run here: it needs Linux
// shared file mappings and futexes.
var shmSupported = errors.New("rdma: the shm backend is supported on Linux only")

func mapFile(string, int) ([]byte, error)          { return nil, shmSupported }
func openMapped(string) ([]byte, error)            { return nil, shmSupported }
func unmap([]byte)                                 {}
func processAlive(int) bool                        { return false }
func futexWaitWord(*uint64, uint64, time.Duration) {}
func futexWakeWord(*uint64)                        {}
