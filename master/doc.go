// Package master is the configuration master of a paxi-style cluster, the
// second of the original Paxi's two ways to configure nodes (the first is a
// JSON file on every node): one process holds the cluster configuration and
// serves it over HTTP; each node fetches it when it starts, and reports to
// the master when it is serving, so that a benchmarker, an operator or a
// deployment script can ask the master which nodes are up and where they
// are.
//
// The master is not part of the protocol: once nodes have their
// configuration they never talk to it again except to report readiness, so
// a master that dies after the cluster started harms nothing.
//
// # API
//
//	GET  /config           the configuration, JSON (the paxi.Config format)
//	POST /ready?id=1.2     node 1.2 is serving (nodes call it; repeat calls are harmless)
//	GET  /ready            which nodes reported, JSON (Readiness)
//	GET  /healthz          200 while the master runs
//
// The configuration includes the admin token that guards the nodes' fault
// endpoints, so the master must listen only where the cluster's own hosts
// can reach it (a private network, a Kubernetes ClusterIP Service).
package master
