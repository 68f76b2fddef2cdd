// Package checker decides whether a run of a paxi-style cluster was correct:
// whether the clients' history is linearizable (Linearizable), and whether
// the replicas agree (Consensus). It also checks Jepsen's etcd register logs
// (ReadJepsenEtcd, CheckJepsenEtcd), which have known verdicts and so test
// the checker itself.
//
// # Linearizability
//
// A history (package history) is linearizable if every operation can be
// given a point in time between its call and its return such that the
// operations, run one at a time in that order on a single key-value store,
// return what the clients saw. The store's specification is KVModel: every
// key starts absent, a get returns the key's value or not-found, a put sets
// it, a delete removes it. The engine is porcupine
// (github.com/anishathalye/porcupine), the checker that etcd, TiPocket and
// MIT 6.5840 use.
//
// Operations are closed intervals [Call, Return], as in porcupine: two
// operations that share an instant are concurrent. With a clock that can
// return the same reading twice this is the only safe reading; a half-open
// interval would order operations that overlapped.
//
// Failed operations (Error set) follow the history package. A failed read
// tells nothing and is dropped. A failed write may or may not have taken
// effect, so it is given Return = +infinity (math.MaxInt64): porcupine may
// then place it anywhere after its call, including after every other
// operation, which is the same as never.
//
// A key-value history is linearizable if and only if each key's
// sub-history is (linearizability is compositional), so each key is checked
// on its own, in parallel. Checking is NP-hard in general, so every check
// has a budget (Options.Timeout, Options.MaxHeap and the context); a key
// not decided within it is Unknown. Porcupine's cost grows with the number
// of operations in flight on one key at a time: a hundred thousand
// operations over a thousand keys take a fraction of a second, but ten
// thousand on one key with about ten in flight did not finish in a minute here,
// and its memory grows by gigabytes a minute meanwhile. Before porcupine,
// each key gets a real-time scan that finds, in O(n log n), the reads the
// writes alone rule out (a value nobody wrote, a read from the future, a
// read of a value overwritten before the read began): such a key is illegal
// without porcupine's exhaustive search, which is what makes a bad history
// as cheap to check as a good one. Unless Options.AllKeys is set the check stops at the first
// illegal key in sorted key order, which keeps a bad history from costing
// the time of a good one and keeps the report the same from run to run.
//
// # Anomalies
//
// An illegal verdict says a key has no linearization but not which result
// is wrong. An anomaly is a read that no linearization allows, given the
// key's writes and the reads judged before it. They are found by a bounded
// greedy minimisation: the writes of a key alone are always linearizable
// (any order of puts and deletes is possible); reads are added in order of
// their call times, and a read that leaves no linearization is reported and
// left out. Reads the real-time scan rules out are taken out first (the
// greedy search would reject them whatever it kept). Checks are monotone in the set of reads, so the search adds the
// remaining reads all at once and, when that fails, finds the first read
// that breaks it by exponential and binary search: O(log n) porcupine runs
// per anomaly rather than one per read. The result is a set of reads whose
// removal leaves a linearizable history, each of which contradicts the
// reads kept. For each anomaly a reason is given where one is cheap to find:
// a value no put wrote; a value overwritten, in real time, before the read
// began (a stale read); or the kept read it contradicts (two reads that saw
// writes in opposite orders). Which read of a contradicting pair is blamed
// follows call order: the later one.
//
// # Visualisation
//
// Options.Visualize writes porcupine's HTML view of a history, with the
// anomalies marked in a row of their own. It needs porcupine's verbose mode,
// which records partial linearizations and on a large illegal history can
// take tens of gigabytes, so only the illegal keys (or, for a legal history,
// the first keys) are drawn, up to Options.VisualizeMaxOps operations, on a
// budget of their own.
//
// # Consensus
//
// Consensus compares the replicas' version histories per key (what each node
// serves at /history?key=K&detail=1): agreement (the histories of a key are
// prefixes of one another), integrity (no write applied twice at a replica)
// and, given the client history, validity (every applied write was
// proposed). Unlike Linearizable it looks inside the cluster, so it catches
// divergence that clients have not read yet.
package checker
