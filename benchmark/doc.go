// Package benchmark generates client load against a key-value service and
// measures it: closed-loop clients, a key distribution, a write ratio, and
// latency statistics.
//
// It knows nothing of nodes or protocols: it drives any DB (the REST client
// of a paxi-style or original Paxi cluster, or anything else), which keeps it
// usable as a library and keeps the configuration package (paxi) free to
// embed its Config.
package benchmark
