package paxi_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
)

// The example config.json at the repository root is the built-in default.
func TestExampleConfigIsDefault(t *testing.T) {
	got, err := paxi.LoadConfig(filepath.Join("..", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := paxi.DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Fatalf("config.json differs from DefaultConfig:\n got  %+v\n want %+v", got, want)
	}
}

func TestDefaultConfigValid(t *testing.T) {
	if err := paxi.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateNamesFieldAndBound(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*paxi.Config)
		want   []string // substrings of the error, all reported at once
	}{
		{"empty protocol", func(c *paxi.Config) { c.Protocol = "" }, []string{"protocol is empty"}},
		{"bad transport", func(c *paxi.Config) { c.Transport = "smoke" }, []string{`transport = "smoke"`}},
		{"no nodes", func(c *paxi.Config) { c.Addrs = nil; c.HTTPAddrs = nil }, []string{"address is empty"}},
		{"bad address", func(c *paxi.Config) { c.Addrs[paxi.MustID("1.1")] = "nowhere" }, []string{`address.1.1 = "nowhere": want host:port`}},
		{"scheme mismatch", func(c *paxi.Config) { c.Addrs[paxi.MustID("1.1")] = "udp://127.0.0.1:1" }, []string{`scheme "udp" does not match transport "tcp"`}},
		{"duplicate address", func(c *paxi.Config) { c.Addrs[paxi.MustID("1.2")] = c.Addrs[paxi.MustID("1.1")] }, []string{"already used by node 1.1"}},
		{"missing http", func(c *paxi.Config) { delete(c.HTTPAddrs, paxi.MustID("1.3")) }, []string{"http_address.1.3 is missing"}},
		{"http without node", func(c *paxi.Config) { c.HTTPAddrs[paxi.MustID("2.1")] = "http://127.0.0.1:9" }, []string{"http_address.2.1: node has no address entry"}},
		{"bad http", func(c *paxi.Config) { c.HTTPAddrs[paxi.MustID("1.1")] = "ftp://x" }, []string{"want http://host:port"}},
		{"public http needs token", func(c *paxi.Config) { c.HTTPAddrs[paxi.MustID("1.1")] = "http://0.0.0.0:8081" }, []string{"admin_token is empty"}},
		{"heartbeat", func(c *paxi.Config) { c.Heartbeat = 0 }, []string{"heartbeat = 0s: must be positive"}},
		{"election vs heartbeat", func(c *paxi.Config) { c.ElectionTimeout = c.Heartbeat }, []string{"election_timeout = 50ms: must be at least 3 heartbeats (150ms)"}},
		{"pipeline", func(c *paxi.Config) { c.Pipeline = 0 }, []string{"pipeline = 0: must be in [1,65536]"}},
		{"batch", func(c *paxi.Config) { c.BatchMax = -1 }, []string{"batch_max = -1"}},
		{"body", func(c *paxi.Config) { c.MaxBodyBytes = 0 }, []string{"max_body_bytes = 0"}},
		{"log level", func(c *paxi.Config) { c.LogLevel = "loud" }, []string{`log_level = "loud"`}},
		{"benchmark", func(c *paxi.Config) { c.Benchmark.W = 1.5 }, []string{"benchmark.W = 1.5: write ratio must be in [0,1]"}},
		{"several at once", func(c *paxi.Config) { c.Pipeline = 0; c.Benchmark.K = 0; c.Transport = "x" },
			[]string{"pipeline = 0", "benchmark.K = 0", `transport = "x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := paxi.DefaultConfig()
			tt.mutate(c)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate accepted a bad config")
			}
			if !errors.Is(err, paxi.ErrBadConfig) {
				t.Errorf("error %v does not wrap ErrBadConfig", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestParseConfigRejectsUnknownField(t *testing.T) {
	_, err := paxi.ParseConfig([]byte(`{"protocol": "paxos", "adress": {}}`))
	if err == nil || !strings.Contains(err.Error(), `unknown field "adress"`) {
		t.Fatalf("misspelt field not rejected: %v", err)
	}
}

func TestParseConfigKeepsDefaultsAndStripsScheme(t *testing.T) {
	c, err := paxi.ParseConfig([]byte(`{
		"address": {"1.1": "tcp://127.0.0.1:2000"},
		"http_address": {"1.1": "http://127.0.0.1:3000"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addrs[paxi.MustID("1.1")] != "127.0.0.1:2000" {
		t.Errorf("scheme not stripped: %q", c.Addrs[paxi.MustID("1.1")])
	}
	if c.Protocol != "paxos" || c.Pipeline != paxi.DefaultConfig().Pipeline {
		t.Errorf("defaults lost: %+v", c)
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := paxi.LoadConfig(filepath.Join(t.TempDir(), "none.json"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("want a not-exist error, got %v", err)
	}
}

func TestZones(t *testing.T) {
	c := paxi.DefaultConfig()
	c.SetLocal(7, 3, 1000, 2000)
	if got := c.Zones(); !reflect.DeepEqual(got, []int{1, 2, 3}) {
		t.Errorf("Zones = %v", got)
	}
	if got := c.ZoneNodes(1); len(got) != 3 || got[2] != paxi.MustID("1.3") {
		t.Errorf("ZoneNodes(1) = %v", got)
	}
	if c.N() != 7 {
		t.Errorf("N = %d", c.N())
	}
}

func TestWANValidation(t *testing.T) {
	ms := func(v int) paxi.Duration { return paxi.Duration(time.Duration(v) * time.Millisecond) }
	tests := []struct {
		name string
		wan  *paxi.WAN
		want string
	}{
		{"preset", &paxi.WAN{Preset: "aws5"}, ""},
		{"unknown preset", &paxi.WAN{Preset: "mars"}, `wan.preset = "mars": unknown`},
		{"empty", &paxi.WAN{}, "give a preset"},
		{"both", &paxi.WAN{Preset: "aws5", RTT: [][]paxi.Duration{{0}}}, "either preset or rtt"},
		{"not square", &paxi.WAN{RTT: [][]paxi.Duration{{0, ms(5)}, {ms(5)}}}, "must be square"},
		{"asymmetric", &paxi.WAN{RTT: [][]paxi.Duration{{0, ms(5)}, {ms(6), 0}}}, "must be symmetric"},
		{"too few zones", &paxi.WAN{RTT: [][]paxi.Duration{{0}}}, "zone 3 is used but the matrix covers zones 1-1"},
	}
	for _, tt := range tests {
		c := paxi.DefaultConfig()
		c.SetLocal(3, 3, 1735, 8081)
		c.WAN = tt.wan
		err := c.Validate()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	c := paxi.DefaultConfig()
	c.SetLocal(5, 5, 1735, 8081)
	c.WAN = &paxi.WAN{Preset: "aws5"}
	if got := c.OneWay(paxi.MustID("1.1"), paxi.MustID("5.1")); got != 72500*time.Microsecond {
		t.Errorf("Virginia to Japan one way = %v, want 72.5ms", got)
	}
	if c.Clone().OneWay(paxi.MustID("4.1"), paxi.MustID("5.1")) != 100*time.Millisecond {
		t.Error("clone lost the WAN section")
	}
}
