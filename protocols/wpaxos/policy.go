package wpaxos

import "github.com/ailidani/paxi-style/paxi"

// policyState is what an owner's migration policy remembers about one
// object: the zone of the last requests from outside the owner's zone and
// how many came in a row. It is reset whenever the object's ballot changes.
type policyState struct {
	zone   int
	streak int
}

// observe feeds a request the owner just took to the migration policy. The
// consecutive policy hands the object to the request's node once Threshold
// requests in a row came from that node's zone; a request from any other
// zone, the owner's own included, starts the count again. That is the
// hysteresis of PROTOCOLS.md §4.5 pitfall 2: two zones that share a hot
// object do not pull it back and forth, whoever owns it keeps it.
func (w *WPaxos) observe(in *instance, r paxi.Request) {
	if w.policy != paxi.WPaxosConsecutive {
		return
	}
	z := r.Node.Zone()
	if z == w.id.Zone() {
		in.policy = policyState{}
		return
	}
	if in.policy.zone != z {
		in.policy = policyState{zone: z}
	}
	in.policy.streak++
	if in.policy.streak < w.limit {
		return
	}
	in.policy = policyState{}
	m := LeaderChange{Key: in.key, From: w.id, To: r.Node, Ballot: in.p.Ballot()}
	w.env.Logger().Debug("migrate", "msg", m)
	w.env.Send(r.Node, m)
}
