// Package node is the production runtime of paxi-style: it runs one protocol
// replica on one node, over a real transport, with the REST API in front.
//
// One goroutine (the event loop) owns the replica, the store and every piece
// of state the replica sees through paxi.Env; it calls Replica.Step for each
// message from the transport, each client request and each timer, one at a
// time, as etcd's raft node.run does. Encoding and sockets work on the
// transport's own goroutines, and HTTP handlers only hand requests to the
// loop and wait for the answer, so no lock is held around the replica.
package node
