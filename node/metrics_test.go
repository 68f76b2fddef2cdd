package node_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/ailidani/paxi-style/paxi"
)

// sample returns the value of the first sample in a Prometheus text
// exposition whose name and labels start with prefix, and whether there
// was one.
func sample(out, prefix string) (float64, bool) {
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		return v, err == nil
	}
	return 0, false
}

func scrapeNode(t *testing.T, c *cluster, id paxi.ID) string {
	t.Helper()
	resp, err := http.Get(c.cfg.HTTPAddrs[id] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics at %v: %s\n%s", id, resp.Status, b)
	}
	return string(b)
}

// Every node serves /metrics on its REST port; requests, executed commands,
// messages by type and leadership move as the cluster works.
func TestMetricsEndpoint(t *testing.T) {
	c := startCluster(t, 3)
	leader := c.leader(t, c.cfg.IDs())
	follower := others(c.cfg.IDs(), leader)[0]
	before := scrapeNode(t, c, follower)
	cl := c.client(follower, "metrics-test")
	const puts = 20
	for i := range puts {
		if _, err := cl.Put(context.Background(), fmt.Sprint("m", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	// The key "metrics" is still a key, through /kv/.
	if _, err := cl.Put(context.Background(), "metrics", []byte("still a key")); err != nil {
		t.Fatal(err)
	}
	lead, fol := scrapeNode(t, c, leader), scrapeNode(t, c, follower)
	l := fmt.Sprintf(`{node="%v",protocol="paxos",`, follower)
	r0, _ := sample(before, "paxi_requests_total"+l)
	r1, ok := sample(fol, "paxi_requests_total"+l)
	if !ok || r1-r0 != puts+1 {
		t.Errorf("follower paxi_requests_total went from %v to %v, want +%d", r0, r1, puts+1)
	}
	if n, _ := sample(fol, "paxi_request_duration_seconds_count"+l); n != r1 {
		t.Errorf("latency histogram count %v, want %v", n, r1)
	}
	checks := []struct {
		out, prefix string
		min         float64
	}{
		{lead, "paxi_commands_executed_total", puts + 1},
		{lead, `paxi_messages_sent_total{node="` + leader.String() + `",protocol="paxos",type="paxos.P2a"`, 1},
		{lead, `paxi_messages_received_total{node="` + leader.String() + `",protocol="paxos",type="paxi.Request"`, puts + 1},
		{fol, `paxi_messages_received_total{node="` + follower.String() + `",protocol="paxos",type="paxos.P2a"`, 1},
		{fol, `paxi_messages_sent_total{node="` + follower.String() + `",protocol="paxos",type="paxi.Request"`, puts + 1},
		{lead, "paxi_is_leader", 1},
		{lead, `paxi_leader_info{leader="` + leader.String() + `"`, 1},
		{fol, `paxi_leader_info{leader="` + leader.String() + `"`, 1},
		{lead, "paxi_ballot_round", 1},
		{lead, "paxi_node_up", 1},
	}
	for _, ck := range checks {
		if v, ok := sample(ck.out, ck.prefix); !ok || v < ck.min {
			t.Errorf("%s: %v (found %v), want at least %v", ck.prefix, v, ok, ck.min)
		}
	}
	if v, _ := sample(fol, "paxi_is_leader"); v != 0 {
		t.Errorf("follower paxi_is_leader = %v", v)
	}
}
