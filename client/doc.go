// Package client is both sides of paxi-style's REST API: the HTTP handler
// every node serves (NewServer) and a Go client for it (REST).
//
// The API is compatible with the original Paxi's, so its client and
// benchmark drive a paxi-style cluster unchanged:
//
//	GET    /{key}            read; 200 with the value as the body, 404 (and header Nv: true) if the key has none
//	PUT    /{key}            write the body; 200 with the previous value as the body
//	POST   /{key}            same as PUT
//	DELETE /{key}            delete; 200 with the previous value as the body
//	POST   /                 JSON {"Key": 9, "Value": "<base64>", "ClientID": "c9", "CommandID": 45}; null Value reads
//	GET    /history?key=K    the key's values in version order, a JSON array of base64 strings; &detail=1 for objects
//	GET    /status           the node's view: leader, ballot, commands applied, active faults
//	GET    /healthz          200 once the node knows a leader, 503 before
//	GET    /crash?t=S        drop every protocol message in and out for S seconds (S <= 0: until /heal)
//	GET    /drop?id=N&t=S    drop messages from this node to node N for S seconds
//	GET    /slow?id=N&delay=MS&t=S   delay messages to node N by MS milliseconds for S seconds
//	GET    /flaky?id=N&p=P&t=S       drop each message to node N with probability P for S seconds
//	GET    /heal             end every fault
//
// Keys are 1 to 256 characters from [A-Za-z0-9._~-]; the words the API uses
// for itself (history, status, healthz, crash, drop, slow, flaky, heal, kv)
// are reached as /kv/{key}, which works for every key. Requests may carry the
// headers Id (client id) and Cid (command id, an unsigned integer): a command
// with both is executed at most once however often it is retried, and both
// are echoed in the answer together with Slot and Ballot.
//
// Errors are JSON {"error": "..."} with status 400 (malformed request), 404
// (no such endpoint), 405 (method), 413 (body over max_body_bytes), 401 (a
// fault endpoint without the admin token) or 503 (not executed in time, or
// the node is stopping).
package client
