package benchmark

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string // substrings of the error, all reported at once; none: valid
	}{
		{"default", func(*Config) {}, nil},
		{"N instead of T", func(c *Config) { c.T, c.N = 0, 100 }, nil},
		{"every distribution", func(c *Config) { c.Distribution = "zipfan" }, nil},
		{"per-zone means", func(c *Config) { c.Distribution, c.Mu = Normal, Mus{200, 500, 800} }, nil},
		{"negative T", func(c *Config) { c.T = -1 }, []string{"benchmark.T = -1ns: must not be negative"}},
		{"neither T nor N", func(c *Config) { c.T, c.N = 0, 0 }, []string{"benchmark.N = 0: must be positive when benchmark.T is 0"}},
		{"negative N", func(c *Config) { c.N = -3 }, []string{"benchmark.N = -3: must not be negative"}},
		{"no keys", func(c *Config) { c.K = 0 }, []string{"benchmark.K = 0: need at least 1 key"}},
		{"write ratio", func(c *Config) { c.W = 1.5 }, []string{"benchmark.W = 1.5: write ratio must be in [0,1]"}},
		{"write ratio NaN", func(c *Config) { c.W = math.NaN() }, []string{"benchmark.W = NaN"}},
		{"throttle", func(c *Config) { c.Throttle = -5 }, []string{"benchmark.Throttle = -5: must be a rate >= 0"}},
		{"throttle inf", func(c *Config) { c.Throttle = math.Inf(1) }, []string{"benchmark.Throttle = +Inf"}},
		{"concurrency", func(c *Config) { c.Concurrency = 0 }, []string{"benchmark.Concurrency = 0: must be in [1,100000]"}},
		{"size", func(c *Config) { c.Size = 0 }, []string{"benchmark.Size = 0: value size must be in [1,1048576] bytes"}},
		{"distribution", func(c *Config) { c.Distribution = "gauss" }, []string{`benchmark.Distribution = "gauss": must be one of`}},
		{"conflicts", func(c *Config) { c.Conflicts = 101 }, []string{"benchmark.Conflicts = 101: percentage must be in [0,100]"}},
		{"min", func(c *Config) { c.Min = -1 }, []string{"benchmark.Min = -1: must be in [0,"}},
		{"no mean", func(c *Config) { c.Mu = nil }, []string{"benchmark.Mu is empty"}},
		{"bad mean", func(c *Config) { c.Mu = Mus{1, math.Inf(-1)} }, []string{"benchmark.Mu[1] = -Inf: must be a finite number"}},
		{"sigma", func(c *Config) { c.Sigma = 0 }, []string{"benchmark.Sigma = 0: must be positive and finite"}},
		{"speed", func(c *Config) { c.Speed = 0 }, []string{"benchmark.Speed = 0s: must be positive"}},
		{"zipf s", func(c *Config) { c.ZipfianS = 1 }, []string{"benchmark.ZipfianS = 1: must be > 1"}},
		{"zipf v", func(c *Config) { c.ZipfianV = 0.5 }, []string{"benchmark.ZipfianV = 0.5: must be >= 1"}},
		{"lambda", func(c *Config) { c.Lambda = -1 }, []string{"benchmark.Lambda = -1: must be positive and finite"}},
		{"several at once", func(c *Config) { c.K, c.W, c.Concurrency, c.Distribution = 0, -1, -2, "x" },
			[]string{"benchmark.K = 0", "benchmark.W = -1", "benchmark.Concurrency = -2", `benchmark.Distribution = "x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("valid config rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted a bad config")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != len(tt.want) {
				t.Errorf("%d problems reported, want %d:\n%v", n, len(tt.want), err)
			}
		})
	}
}

// A Paxi benchmark section reads with Paxi's meanings: T in seconds, Speed
// in milliseconds, Mu a number; Mu may also be a list, one mean per zone.
func TestConfigJSON(t *testing.T) {
	var c Config
	in := `{"T": 60, "N": 0, "K": 1000, "W": 0.5, "Throttle": 0, "Concurrency": 1, "Distribution": "normal",
		"Conflicts": 100, "Min": 0, "Mu": 500, "Sigma": 60, "Move": true, "Speed": 500, "ZipfianS": 2, "ZipfianV": 1, "Lambda": 0.01, "Size": 8}`
	if err := json.Unmarshal([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	if c.T != Duration(time.Minute) || c.Speed != Millis(500*time.Millisecond) || !reflect.DeepEqual(c.Mu, Mus{500}) {
		t.Fatalf("T=%v Speed=%v Mu=%v", c.T, c.Speed, c.Mu)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.Mu = Mus{200, 500, 800}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"Mu":[200,500,800]`) || !strings.Contains(string(b), `"Speed":"500ms"`) {
		t.Fatalf("marshalled %s", b)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip:\n got  %+v\n want %+v", back, c)
	}
	if err := json.Unmarshal([]byte(`{"Mu": "x"}`), &back); err == nil || !strings.Contains(err.Error(), "benchmark.Mu") {
		t.Fatalf("bad Mu: %v", err)
	}
}

func TestMusZone(t *testing.T) {
	m := Mus{200, 500, 800}
	if v, err := m.Zone(2); err != nil || v != 500 {
		t.Fatalf("zone 2: %v %v", v, err)
	}
	if _, err := m.Zone(4); err == nil || !strings.Contains(err.Error(), "zone 4") {
		t.Fatalf("zone 4: %v", err)
	}
	if v, err := (Mus{7}).Zone(9); err != nil || v != 7 {
		t.Fatalf("one mean for every zone: %v %v", v, err)
	}
	if p, err := ParseMus("200, 500,800"); err != nil || !reflect.DeepEqual(p, m) || p.String() != "200,500,800" {
		t.Fatalf("ParseMus: %v %v", p, err)
	}
	if _, err := ParseMus("1,x"); err == nil {
		t.Fatal("ParseMus accepted x")
	}
}
