package mu

import (
	"cmp"
	"slices"
)

// sortedKeys returns the waiting commands in a deterministic order.
func sortedKeys[V any](m map[cmdKey]V) []cmdKey {
	ks := make([]cmdKey, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b cmdKey) int {
		if c := cmp.Compare(a.client, b.client); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	return ks
}
