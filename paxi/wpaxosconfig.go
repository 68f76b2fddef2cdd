package paxi

import (
	"fmt"
	"slices"
)

// Migration policies of WPaxos: when an object's ownership moves to the
// zone that accesses it.
const (
	// WPaxosConsecutive: the owner hands an object to a remote node after
	// Threshold consecutive requests for it from that node's zone (the
	// adaptive mode of the paper; Paxi's "consecutive" policy).
	WPaxosConsecutive = "consecutive"
	// WPaxosImmediate: a node steals an object on the first access by one
	// of its clients (the immediate mode of the paper), with a randomised
	// back-off after every ownership change so that two zones cannot steal
	// a hot object back and forth forever.
	WPaxosImmediate = "immediate"
	// WPaxosNone: objects never move once owned (they still move when a
	// request waits too long because their owner failed).
	WPaxosNone = "none"
)

// WPaxosPolicies lists the policies WPaxosConfig accepts.
var WPaxosPolicies = []string{WPaxosConsecutive, WPaxosImmediate, WPaxosNone}

// WPaxosDefaultThreshold is the consecutive policy's threshold when the
// configuration leaves it out (Paxi's default).
const WPaxosDefaultThreshold = 3

// WPaxosConfig tunes WPaxos (protocol "wpaxos"). The zero value is valid:
// fz = 0 and the consecutive policy with WPaxosDefaultThreshold.
type WPaxosConfig struct {
	// FZ is how many zones may fail at once while objects can still change
	// hands. Phase 1 waits for a majority of the nodes in each of Z-FZ
	// zones and phase 2 for a majority in each of FZ+1 zones, so FZ = 0
	// commits inside the owner's zone. It must be below the number of
	// zones (checked with the node list, by the protocol).
	FZ int `json:"fz"`
	// Policy is one of WPaxosPolicies; empty means consecutive.
	Policy string `json:"policy,omitempty"`
	// Threshold is the number of consecutive remote requests after which
	// the consecutive policy moves an object; 0 means
	// WPaxosDefaultThreshold.
	Threshold int `json:"threshold,omitempty"`
}

// PolicyName returns the policy in force (the default for empty).
func (w WPaxosConfig) PolicyName() string {
	if w.Policy == "" {
		return WPaxosConsecutive
	}
	return w.Policy
}

// ThresholdValue returns the threshold in force (the default for 0).
func (w WPaxosConfig) ThresholdValue() int {
	if w.Threshold == 0 {
		return WPaxosDefaultThreshold
	}
	return w.Threshold
}

func (w WPaxosConfig) validate() []error {
	var errs []error
	if w.FZ < 0 {
		errs = append(errs, fmt.Errorf("wpaxos.fz = %d: must not be negative (it counts zone failures)", w.FZ))
	}
	if w.Policy != "" && !slices.Contains(WPaxosPolicies, w.Policy) {
		errs = append(errs, fmt.Errorf("wpaxos.policy = %q: must be one of %q", w.Policy, WPaxosPolicies))
	}
	if w.Threshold < 0 || w.Threshold > 1<<20 {
		errs = append(errs, fmt.Errorf("wpaxos.threshold = %d: must be in [1,1048576] (0: default %d)", w.Threshold, WPaxosDefaultThreshold))
	}
	if w.Threshold != 0 && w.PolicyName() != WPaxosConsecutive {
		errs = append(errs, fmt.Errorf("wpaxos.threshold = %d: applies only to policy %q, not %q", w.Threshold, WPaxosConsecutive, w.PolicyName()))
	}
	return errs
}
