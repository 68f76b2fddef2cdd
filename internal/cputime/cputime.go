// Package cputime reads how much CPU time this process has used, so that
// benchmark results can say how many cores each process kept busy: on a
// small machine, a throughput figure means little without it.
package cputime

import "time"

// Process returns the CPU time (user and system, all threads) this process
// has used since it started, and whether the platform reports it.
func Process() (time.Duration, bool) { return process() }

// Cores is the average number of cores busy over wall: cpu / wall.
func Cores(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return cpu.Seconds() / wall.Seconds()
}

// Seconds is Process in seconds, 0 where the platform does not report it.
func Seconds() float64 {
	d, _ := process()
	return d.Seconds()
}
