package checker

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/ailidani/paxi-style/history"
	"github.com/ailidani/paxi-style/store"
)

// ViolationKind names the property of consensus a Violation breaks.
type ViolationKind string

// The properties Consensus checks.
const (
	// Agreement: two replicas hold different versions at the same
	// position of a key's history (their histories are not prefixes of
	// one another).
	Agreement ViolationKind = "agreement"
	// Validity: a replica applied a write that no client proposed.
	Validity ViolationKind = "validity"
	// Integrity: a replica applied the same write twice.
	Integrity ViolationKind = "integrity"
)

// Violation is one breach of a consensus property at one replica.
type Violation struct {
	// Kind is the property broken.
	Kind ViolationKind
	// Key is the key whose history shows it.
	Key string
	// Replica is the replica whose history shows it.
	Replica string
	// Position is the index of Version in the replica's history of Key
	// (from 0; a store numbers versions from 1).
	Position int
	// Version is the offending version.
	Version store.Version
	// Other, OtherPosition and OtherVersion are the version Version is
	// compared with: for Agreement, another replica's version at the same
	// position; for Integrity, the earlier application at the same
	// replica. Validity has none.
	Other         string
	OtherPosition int
	OtherVersion  store.Version
}

// describeVersion prints a version as `put "x" by c1#7`.
func describeVersion(v store.Version) string {
	s := "put " + quoteShort(string(v.Value))
	if v.Deleted {
		s = "delete"
	}
	if v.ClientID != "" || v.CommandID != 0 {
		s += fmt.Sprintf(" by %s#%d", v.ClientID, v.CommandID)
	}
	return s
}

// String prints the violation on one line.
func (v Violation) String() string {
	switch v.Kind {
	case Agreement:
		return fmt.Sprintf("agreement: key %q position %d: replica %s has %s, replica %s has %s",
			v.Key, v.Position, v.Replica, describeVersion(v.Version), v.Other, describeVersion(v.OtherVersion))
	case Integrity:
		return fmt.Sprintf("integrity: key %q replica %s: %s applied at positions %d and %d",
			v.Key, v.Replica, describeVersion(v.Version), v.OtherPosition, v.Position)
	default:
		return fmt.Sprintf("validity: key %q replica %s position %d: %s was never proposed by a client",
			v.Key, v.Replica, v.Position, describeVersion(v.Version))
	}
}

// ConsensusReport is the result of Consensus.
type ConsensusReport struct {
	// Replicas and Keys count what was compared; Versions counts the
	// versions of all replicas together.
	Replicas, Keys, Versions int
	// ValidityChecked says whether a client history was given, so that
	// validity was checked.
	ValidityChecked bool
	// Violations are ordered by key, then kind (agreement, integrity,
	// validity), replica and position.
	Violations []Violation
}

// Ok reports whether no property was violated.
func (r ConsensusReport) Ok() bool { return len(r.Violations) == 0 }

// String prints a summary line followed by one line per violation.
func (r ConsensusReport) String() string {
	var b strings.Builder
	verdict := "Ok"
	if !r.Ok() {
		verdict = plural(len(r.Violations), "violation")
	}
	fmt.Fprintf(&b, "%s: %s, %s, %s", verdict, plural(r.Replicas, "replica"), plural(r.Keys, "key"), plural(r.Versions, "version"))
	if !r.ValidityChecked {
		b.WriteString(" (validity not checked: no client history)")
	}
	b.WriteString("\n")
	for _, v := range r.Violations {
		fmt.Fprintf(&b, "%s\n", v)
	}
	return b.String()
}

// sameVersion compares what consensus must agree on: the write, and the
// command that made it. The version number is left out, as it only counts
// positions.
func sameVersion(a, b store.Version) bool {
	return a.Deleted == b.Deleted && bytes.Equal(a.Value, b.Value) && a.ClientID == b.ClientID && a.CommandID == b.CommandID
}

// Consensus checks the per-key version histories of replicas (replica ->
// key -> versions, as each node serves at /history?key=K&detail=1) for
// the properties of consensus:
//
//   - agreement: for every key, the replicas' histories are prefixes of one
//     another; a replica that is behind is fine, one that differs is not.
//     For each pair of replicas only the first differing position is
//     reported, since everything after it usually differs too;
//   - integrity: no replica applied one write twice at a key. A write is
//     identified as the store deduplicates it: client id, command id,
//     and the write itself (delete, or put of a value). Versions without a
//     client id are anonymous and not compared. The same ids with a
//     different write are a different command (the original Paxi client
//     reuses command ids), so they are not a violation;
//   - validity, when clients is not nil: every write a replica applied was
//     proposed, that is, the client history has a put of that key with that
//     value, or a delete of that key, failed or not (a failed write may
//     have been applied). Validity cannot be matched by command ids, as
//     the history does not record them.
//
// A nil clients skips validity; an empty non-nil one means no client
// proposed anything. Keys a replica does not list have an empty history.
func Consensus(replicas map[string]map[string][]store.Version, clients []history.Operation) ConsensusReport {
	rep := ConsensusReport{Replicas: len(replicas), ValidityChecked: clients != nil}
	names := make([]string, 0, len(replicas))
	keySet := make(map[string]bool)
	for name, keys := range replicas {
		names = append(names, name)
		for k, vs := range keys {
			keySet[k] = true
			rep.Versions += len(vs)
		}
	}
	sort.Strings(names)
	keys := make([]string, 0, len(keySet))
	for k := range keySet {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rep.Keys = len(keys)

	// proposed[key] holds "p"+value for puts and "d" for deletes.
	proposed := make(map[string]map[string]bool)
	for _, o := range clients {
		var w string
		switch o.Kind {
		case history.Put:
			w = "p" + string(o.Input)
		case history.Delete:
			w = "d"
		default:
			continue
		}
		if proposed[o.Key] == nil {
			proposed[o.Key] = make(map[string]bool)
		}
		proposed[o.Key][w] = true
	}

	for _, k := range keys {
		// Agreement, pairwise.
		for i, a := range names {
			for _, b := range names[i+1:] {
				va, vb := replicas[a][k], replicas[b][k]
				for p := 0; p < len(va) && p < len(vb); p++ {
					if !sameVersion(va[p], vb[p]) {
						rep.Violations = append(rep.Violations, Violation{
							Kind: Agreement, Key: k, Replica: a, Position: p, Version: va[p],
							Other: b, OtherPosition: p, OtherVersion: vb[p],
						})
						break
					}
				}
			}
		}
		// Integrity.
		for _, name := range names {
			type write struct {
				client  string
				command uint64
				deleted bool
				value   string
			}
			first := make(map[write]int)
			for p, v := range replicas[name][k] {
				if v.ClientID == "" {
					continue
				}
				w := write{v.ClientID, v.CommandID, v.Deleted, string(v.Value)}
				if q, dup := first[w]; dup {
					rep.Violations = append(rep.Violations, Violation{
						Kind: Integrity, Key: k, Replica: name, Position: p, Version: v,
						Other: name, OtherPosition: q, OtherVersion: replicas[name][k][q],
					})
					continue
				}
				first[w] = p
			}
		}
		// Validity.
		if clients == nil {
			continue
		}
		for _, name := range names {
			for p, v := range replicas[name][k] {
				w := "p" + string(v.Value)
				if v.Deleted {
					w = "d"
				}
				if !proposed[k][w] {
					rep.Violations = append(rep.Violations, Violation{Kind: Validity, Key: k, Replica: name, Position: p, Version: v})
				}
			}
		}
	}
	return rep
}
