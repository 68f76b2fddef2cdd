package wankeeper

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ailidani/paxi-style/paxi"
)

// Check verifies, after a simulated run has healed and quiesced, what
// WanKeeper promises beyond the generic checks (PROTOCOLS.md §0.3,
// ownership): every replica has learned every zone's log to the same
// point, they derived the same token table from them, and no key's token is
// held by two zones at once.
func Check(replicas map[paxi.ID]paxi.Replica) error {
	var ids []paxi.ID
	for id, r := range replicas {
		if _, ok := r.(*WanKeeper); ok {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	var errs []error
	ref := replicas[ids[0]].(*WanKeeper)
	for _, id := range ids {
		w := replicas[id].(*WanKeeper)
		if err := w.checkOwnership(); err != nil {
			errs = append(errs, err)
		}
		if id == ids[0] {
			continue
		}
		for _, z := range w.zones {
			if a, b := ref.k.logs[z].execute, w.k.logs[z].execute; a != b {
				errs = append(errs, fmt.Errorf("zone %d's log: %v applied %d slots, %v %d", z, ids[0], a, id, b))
			}
		}
		for _, key := range sortedMapKeys(ref.k.table) {
			a, b := ref.k.table[key], w.k.table[key]
			if b == nil || a.holder != b.holder || a.epoch != b.epoch {
				errs = append(errs, fmt.Errorf("key %s: %v says zone %d holds the token at epoch %d, %v says %+v", key, ids[0], a.holder, a.epoch, id, b))
			}
		}
	}
	return errors.Join(errs...)
}

// checkOwnership reports a key whose token two zones hold at once in this
// replica's view.
func (w *WanKeeper) checkOwnership() error {
	keys := map[string]bool{}
	for _, z := range w.zones {
		for key := range w.k.holds[z] {
			keys[key] = true
		}
	}
	for key := range w.k.table {
		keys[key] = true
	}
	for _, key := range sortedMapKeys(keys) {
		var holders []int
		for _, z := range w.zones {
			if w.Holds(z, key) {
				holders = append(holders, z)
			}
		}
		if len(holders) > 1 {
			return fmt.Errorf("node %v: key %s held by zones %v at once", w.id, key, holders)
		}
	}
	return nil
}
