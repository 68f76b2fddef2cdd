package paxi

import (
	"fmt"
	"path/filepath"
)

// RDMA backends a real node can give protocols with Protocol.RDMA (the
// simulator always uses its own, virtual-time one).
const (
	// RDMAMem: the nodes of one process share one emulated fabric
	// (`paxi local`).
	RDMAMem = "mem"
	// RDMAShm: each node's memory regions are files in a shared-memory
	// directory that the other nodes' processes map (`paxi server`, one
	// process per node, on one machine).
	RDMAShm = "shm"
)

// RDMAConfig chooses how the runtime emulates RDMA for protocols that
// replicate with one-sided verbs (package transport/rdma). The zero value
// is valid: the mem backend with the default profile. Profile and
// placement names are checked by the node when it starts (the names live
// in package rdma).
type RDMAConfig struct {
	// Backend is RDMAMem or RDMAShm; empty means RDMAMem.
	Backend string `json:"backend,omitempty"`
	// Dir is where the shm backend keeps its files; empty means /dev/shm.
	Dir string `json:"dir,omitempty"`
	// Cluster names the cluster's files in Dir, so that clusters running
	// at the same time on one machine never share memory; empty means a
	// name derived from the nodes' addresses.
	Cluster string `json:"cluster,omitempty"`
	// Profile names the latency model (rdma.Profiles); empty means
	// "cx5-edr-1switch".
	Profile string `json:"profile,omitempty"`
	// Placement is how multi-chunk writes land: "inorder-chunks" (the
	// default), "random-chunks" or "whole".
	Placement string `json:"placement,omitempty"`
}

// BackendName returns the backend in force (the default for empty).
func (r RDMAConfig) BackendName() string {
	if r.Backend == "" {
		return RDMAMem
	}
	return r.Backend
}

// DirName returns the shm directory in force (the default for empty).
func (r RDMAConfig) DirName() string {
	if r.Dir == "" {
		return "/dev/shm"
	}
	return r.Dir
}

func (r RDMAConfig) validate() []error {
	var errs []error
	switch r.Backend {
	case "", RDMAMem, RDMAShm:
	default:
		errs = append(errs, fmt.Errorf("rdma.backend = %q: must be %q or %q", r.Backend, RDMAMem, RDMAShm))
	}
	if r.Dir != "" && !filepath.IsAbs(r.Dir) {
		errs = append(errs, fmt.Errorf("rdma.dir = %q: must be an absolute path", r.Dir))
	}
	for _, c := range r.Cluster {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			errs = append(errs, fmt.Errorf("rdma.cluster = %q: use letters, digits, '-', '_' and '.' (it names files)", r.Cluster))
			break
		}
	}
	return errs
}
