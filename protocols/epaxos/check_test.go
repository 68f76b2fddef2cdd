package epaxos

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/sim"
)

// healthy runs a small conflicting workload to completion and returns the
// replicas, which pass CheckAgreement.
func healthy(t *testing.T) map[paxi.ID]*EPaxos {
	t.Helper()
	cfg := paxi.DefaultConfig()
	cfg.SetLocal(3, 1, 1735, 8081)
	c, err := sim.New(cfg, Protocol(), sim.LAN(1))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		cmd := paxi.Command{Op: paxi.Put, Key: fmt.Sprint("k", i%2), Value: []byte(fmt.Sprint(i))}
		if i%3 == 0 {
			cmd = paxi.Command{Op: paxi.Get, Key: "k0"}
		}
		c.Submit(c.IDs()[i%3], cmd)
	}
	c.RunFor(2 * time.Second)
	out := map[paxi.ID]*EPaxos{}
	for _, id := range c.IDs() {
		out[id] = c.Replica(id).(*EPaxos)
		if got := c.Store(id).Applied(); got != 30 {
			t.Fatalf("%v applied %d commands, want 30", id, got)
		}
	}
	if err := CheckAgreement(out); err != nil {
		t.Fatalf("healthy run: %v", err)
	}
	return out
}

// find returns the first committed instance at r for which ok holds.
func find(r *EPaxos, ok func(*instance) bool) *instance {
	for _, row := range r.rows {
		for _, inst := range row {
			if inst != nil && inst.status == Committed && ok(inst) {
				return inst
			}
		}
	}
	return nil
}

func writesKey(k string) func(*instance) bool {
	return func(i *instance) bool { return i.keySet()[k] }
}

// CheckAgreement reports each property it promises when it is broken.
func TestCheckAgreementCatches(t *testing.T) {
	n2 := paxi.MustID("1.2")
	n3 := paxi.MustID("1.3")
	cases := []struct {
		name   string
		mutate func(rs map[paxi.ID]*EPaxos)
		want   string
	}{
		{"different seq", func(rs map[paxi.ID]*EPaxos) {
			inst := find(rs[n2], writesKey("k1"))
			inst.seq += 100
		}, "committed differently"},
		{"different commands", func(rs map[paxi.ID]*EPaxos) {
			inst := find(rs[n2], writesKey("k1"))
			inst.cmds = []paxi.Command{{Op: paxi.Noop}}
		}, "committed differently"},
		{"missing dependency", func(rs map[paxi.ID]*EPaxos) {
			// Make the last write of k1 in some row depend on nothing
			// outside its row, everywhere.
			for _, r := range rs {
				var last *instance
				for _, row := range r.rows {
					for _, inst := range row {
						if inst != nil && inst.keySet()["k1"] && (last == nil || inst.execOrder > last.execOrder) {
							last = inst
						}
					}
				}
				d := slices.Clone(last.deps)
				for q := range d {
					if q != last.row {
						d[q] = -1
					}
				}
				last.deps = d
			}
		}, "does not depend"},
		{"execution order", func(rs map[paxi.ID]*EPaxos) {
			r := rs[n3]
			var ws []*instance
			for _, row := range r.rows {
				for _, inst := range row {
					if inst != nil && inst.keySet()["k1"] {
						ws = append(ws, inst)
					}
				}
			}
			slices.SortFunc(ws, func(a, b *instance) int { return int(a.execOrder) - int(b.execOrder) })
			ws[0].execOrder, ws[1].execOrder = ws[1].execOrder, ws[0].execOrder
		}, "different orders"},
		{"read position", func(rs map[paxi.ID]*EPaxos) {
			r := rs[n3]
			var ops []*instance // instances on k0, by execution order
			for _, row := range r.rows {
				for _, inst := range row {
					if inst != nil {
						if _, ok := inst.keySet()["k0"]; ok {
							ops = append(ops, inst)
						}
					}
				}
			}
			slices.SortFunc(ops, func(a, b *instance) int { return int(a.execOrder) - int(b.execOrder) })
			// Swap a read with the write just before it.
			for i := 1; i < len(ops); i++ {
				if !ops[i].keySet()["k0"] && ops[i-1].keySet()["k0"] {
					ops[i].execOrder, ops[i-1].execOrder = ops[i-1].execOrder, ops[i].execOrder
					return
				}
			}
			panic("no read after a write of k0")
		}, "read"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := healthy(t)
			tc.mutate(rs)
			err := CheckAgreement(rs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckAgreement = %v, want an error about %q", err, tc.want)
			}
		})
	}
}
