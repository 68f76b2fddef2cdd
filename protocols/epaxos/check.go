package epaxos

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/ailidani/paxi-style/paxi"
)

// maxViolations bounds how many violations CheckAgreement reports.
const maxViolations = 10

// CheckAgreement checks the EPaxos-specific safety properties across
// replicas (PROTOCOLS.md §0.3), for tests and the simulator:
//
//   - attribute agreement: every replica that committed an instance
//     committed the same commands, seq and deps;
//   - the dependency invariant the execution order rests on: of two
//     committed instances whose commands conflict, at least one has the
//     other in its deps;
//   - execution consistency: conflicting commands were executed in the same
//     relative order at every replica. Per key, the writes a replica
//     executed are a prefix of one common sequence, and every read sits
//     after the same number of those writes everywhere.
//
// It returns nil if all hold, and otherwise an error describing the first
// violations. The replicas must all run over the same configuration.
func CheckAgreement(replicas map[paxi.ID]*EPaxos) error {
	ids := make([]paxi.ID, 0, len(replicas))
	for id := range replicas {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(ids) == 0 {
		return nil
	}
	var errs []error
	report := func(format string, a ...any) bool {
		if len(errs) < maxViolations {
			errs = append(errs, fmt.Errorf(format, a...))
		}
		return len(errs) < maxViolations
	}
	peers := replicas[ids[0]].peers

	// Attribute agreement; the union of the committed instances.
	committed := map[InstanceID]*instance{}
	from := map[InstanceID]paxi.ID{}
	for _, id := range ids {
		e := replicas[id]
		for _, row := range e.rows {
			for _, inst := range row {
				if inst == nil || inst.status != Committed {
					continue
				}
				iid := inst.id(peers)
				first, ok := committed[iid]
				if !ok {
					committed[iid], from[iid] = inst, id
					continue
				}
				if !sameCmds(first.cmds, inst.cmds) || !first.attrs().equal(inst.attrs()) {
					report("instance %v committed differently: at %v seq=%d deps=%v %s, at %v seq=%d deps=%v %s",
						iid, from[iid], first.seq, depsString(first.deps), paxi.CommandsString(first.cmds),
						id, inst.seq, depsString(inst.deps), paxi.CommandsString(inst.cmds))
				}
			}
		}
	}
	checkDependencies(peers, committed, report)
	checkExecutionOrder(ids, replicas, report)
	return errors.Join(errs...)
}

// touching is a committed instance that touches a key, writing it or not.
type touching struct {
	inst  *instance
	write bool
}

// checkDependencies checks that of any two conflicting committed instances
// one depends on the other. For instance γ and a row q, the instances δ of
// q that γ does not depend on are those above γ.deps[q]; each conflicting
// one must have γ.num <= δ.deps[γ.row]. Suffix minima of deps over each
// row's instances on a key make that one lookup per (γ, q).
func checkDependencies(peers []paxi.ID, committed map[InstanceID]*instance, report func(string, ...any) bool) {
	n := len(peers)
	byKey := map[string][]touching{}
	for _, inst := range committed {
		for k, w := range inst.keySet() {
			byKey[k] = append(byKey[k], touching{inst, w})
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// rowList is the instances of one row on a key, by number, with the
	// suffix minima of each deps entry.
	type rowList struct {
		nums []int64
		min  [][]int64 // min[r][i] = min over nums[i:] of deps[r]
	}
	build := func(ts []touching) rowList {
		slices.SortFunc(ts, func(a, b touching) int { return cmp.Compare(a.inst.num, b.inst.num) })
		l := rowList{nums: make([]int64, len(ts)), min: make([][]int64, n)}
		for i, t := range ts {
			l.nums[i] = t.inst.num
		}
		for r := range n {
			m := make([]int64, len(ts)+1)
			m[len(ts)] = 1 << 62
			for i := len(ts) - 1; i >= 0; i-- {
				m[i] = min(m[i+1], ts[i].inst.deps[r])
			}
			l.min[r] = m
		}
		return l
	}
	for _, k := range keys {
		ts := byKey[k]
		all := make([][]touching, n)
		writes := make([][]touching, n)
		for _, t := range ts {
			all[t.inst.row] = append(all[t.inst.row], t)
			if t.write {
				writes[t.inst.row] = append(writes[t.inst.row], t)
			}
		}
		allL, writeL := make([]rowList, n), make([]rowList, n)
		for q := range n {
			allL[q], writeL[q] = build(all[q]), build(writes[q])
		}
		for _, t := range ts {
			g := t.inst
			for q := range n {
				if q == g.row {
					continue // the own row is a total order by construction
				}
				l := writeL[q] // a read conflicts with writes only
				if t.write {
					l = allL[q]
				}
				i, _ := slices.BinarySearch(l.nums, g.deps[q]+1)
				if i < len(l.nums) && l.min[g.row][i] < g.num {
					if !report("key %q: committed %v does not depend on a conflicting instance of row %v above %d, nor does that one depend on it",
						k, g.id(peers), peers[q], g.deps[q]) {
						return
					}
				}
			}
		}
	}
}

// checkExecutionOrder compares, per key, the order in which the replicas
// executed conflicting instances.
func checkExecutionOrder(ids []paxi.ID, replicas map[paxi.ID]*EPaxos, report func(string, ...any) bool) {
	type readPos struct {
		key string
		id  InstanceID
	}
	var refWrites map[string][]InstanceID
	refFrom := map[string]paxi.ID{}
	refReads := map[readPos]int{}
	refReadAt := map[readPos]paxi.ID{}
	for _, id := range ids {
		e := replicas[id]
		var done []*instance
		for _, row := range e.rows {
			for _, inst := range row {
				if inst != nil && inst.executed {
					done = append(done, inst)
				}
			}
		}
		slices.SortFunc(done, func(a, b *instance) int { return cmp.Compare(a.execOrder, b.execOrder) })
		writes := map[string][]InstanceID{}
		for _, inst := range done {
			iid := inst.id(e.peers)
			ks := inst.keySet()
			keys := make([]string, 0, len(ks))
			for k := range ks {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if ks[k] {
					writes[k] = append(writes[k], iid)
					continue
				}
				p := readPos{k, iid}
				pos := len(writes[k])
				if prev, ok := refReads[p]; ok && prev != pos {
					if !report("key %q: read %v executed after %d writes at %v but after %d at %v", k, iid, prev, refReadAt[p], pos, id) {
						return
					}
				} else if !ok {
					refReads[p], refReadAt[p] = pos, id
				}
			}
		}
		keys := make([]string, 0, len(writes))
		for k := range writes {
			keys = append(keys, k)
			if refWrites == nil {
				refFrom[k] = id
			}
		}
		if refWrites == nil {
			refWrites = writes
			continue
		}
		sort.Strings(keys)
		for _, k := range keys {
			ws, ref := writes[k], refWrites[k]
			short, long := ws, ref
			if len(short) > len(long) {
				short, long = long, short
			}
			if !slices.Equal(short, long[:len(short)]) {
				i := 0
				for i < len(short) && short[i] == long[i] {
					i++
				}
				if !report("key %q: writes executed in different orders after %d common ones (last %v): %v at %v, %v at %v", k,
					i, ws[max(i-1, 0):i], ws[i:min(i+3, len(ws))], id, ref[i:min(i+3, len(ref))], refFrom[k]) {
					return
				}
			}
			if len(ws) > len(ref) {
				refWrites[k], refFrom[k] = ws, id
			}
		}
	}
}
