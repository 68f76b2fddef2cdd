// Package netnstest runs a paxi-style cluster as separate hosts on one Linux
// machine: one network namespace per node, each joined by a veth pair to a
// bridge in a namespace of its own, with wide-area delays on every link
// between nodes and links that can be cut. Its test starts one paxi server
// process per namespace, measures per-zone latency against the emulated
// round-trip times and cuts a zone off to check what the protocol promises.
//
// Delays are applied by the kernel, to every packet: with tc netem where
// the kernel has it (sch_netem), otherwise by holding each packet in an
// NFQUEUE (a netfilter queue) and releasing it to the kernel once its
// delay has passed (nfqueue.go), for kernels built without netem.
//
// It needs root and the ip command (iproute2), and tc or iptables for the
// delays; the test skips, saying which is missing, where they are not
// available. Every name it creates (namespaces, interfaces, a subnet of
// 198.18.0.0/15, the range reserved for network benchmarks) carries a tag
// unique to the run, and everything is removed when the test ends, failed
// or not.
package netnstest
