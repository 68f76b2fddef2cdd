package plot

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/benchmark"
)

func sweepPoints(label string, scale float64) []benchmark.SweepPoint {
	var pts []benchmark.SweepPoint
	for i, c := range []int{1, 2, 4, 8, 16} {
		s := benchmark.Summary{Label: label, Concurrency: c}
		s.Overall.Throughput = scale * float64(min(c, 4)) * 1000
		s.Overall.Ops = int(s.Overall.Throughput)
		s.Overall.P50 = time.Duration(i+1) * time.Millisecond
		s.Overall.P99 = 3 * s.Overall.P50
		pts = append(pts, benchmark.SweepPoint{Concurrency: c, Summary: s})
	}
	return pts
}

func write(t *testing.T, path string, f func(*os.File) error) string {
	t.Helper()
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f(out); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkImage checks that a plot file is a non-empty PNG or SVG with some
// drawing on it.
func checkImage(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	switch filepath.Ext(path) {
	case ".png":
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r := img.Bounds()
		if r.Dx() < 300 || r.Dy() < 200 {
			t.Fatalf("%s: %v pixels", path, r)
		}
		// Count coloured pixels (a line colour, not white, grey or black).
		coloured := 0
		for y := r.Min.Y; y < r.Max.Y; y += 2 {
			for x := r.Min.X; x < r.Max.X; x += 2 {
				cr, cg, cb, _ := img.At(x, y).RGBA()
				if max(cr, cg, cb)-min(cr, cg, cb) > 0x4000 {
					coloured++
				}
			}
		}
		if coloured < 20 {
			t.Fatalf("%s: only %d coloured pixels: nothing drawn", path, coloured)
		}
	case ".svg":
		s := string(b)
		if !strings.Contains(s, "<svg") || !strings.Contains(s, "</svg>") || len(s) < 2000 {
			t.Fatalf("%s: not an SVG plot (%d bytes)", path, len(s))
		}
	}
}

func TestLatencyThroughputFiles(t *testing.T) {
	dir := t.TempDir()
	a := write(t, filepath.Join(dir, "paxos.csv"), func(f *os.File) error { return benchmark.WriteSweepCSV(f, sweepPoints("paxos", 1)) })
	b := write(t, filepath.Join(dir, "epaxos.csv"), func(f *os.File) error { return benchmark.WriteSweepCSV(f, sweepPoints("", 1.5)) })
	for _, out := range []string{"lt.png", "lt.svg"} {
		p := filepath.Join(dir, out)
		if err := Files(p, []string{a, b}, Options{Metric: "p99"}); err != nil {
			t.Fatal(err)
		}
		checkImage(t, p)
	}
	svg, _ := os.ReadFile(filepath.Join(dir, "lt.svg"))
	// One legend entry per file: the label column, or the file name.
	for _, want := range []string{"paxos", "epaxos", "p99 latency (ms)"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

func TestCDFFile(t *testing.T) {
	dir := t.TempDir()
	cfg := benchmark.DefaultConfig()
	cfg.T, cfg.N, cfg.Concurrency = 0, 400, 2
	res, err := benchmark.Run(context.Background(), benchmark.Options{Config: cfg,
		Target: func(int) (benchmark.Target, error) { return benchmark.Target{Zone: 1, Node: "n", DB: sleepDB{}}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	lat := write(t, filepath.Join(dir, "latency.csv"), func(f *os.File) error { return res.WriteLatencyCSV(f) })
	for _, opt := range []Options{{}, {LogX: true}} {
		p := filepath.Join(dir, "cdf.png")
		if err := Files(p, []string{lat}, opt); err != nil {
			t.Fatal(err)
		}
		checkImage(t, p)
	}
}

type sleepDB struct{}

func (sleepDB) Read(context.Context, int) ([]byte, bool, error) {
	time.Sleep(100 * time.Microsecond)
	return nil, false, nil
}
func (sleepDB) Write(context.Context, int, []byte) error {
	time.Sleep(200 * time.Microsecond)
	return nil
}

func TestZoneBarsFiles(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i, label := range []string{"wpaxos", "vpaxos"} {
		s := benchmark.Summary{Label: label, Concurrency: 3}
		for z := 1; z <= 3; z++ {
			st := benchmark.Stats{Ops: 100, P50: time.Duration(z*(i+1)) * time.Millisecond}
			s.Zones = append(s.Zones, benchmark.ZoneStats{Zone: z, Clients: 1, Stats: st})
		}
		files = append(files, write(t, filepath.Join(dir, label+".csv"), func(f *os.File) error { return benchmark.WriteStatsCSV(f, s) }))
	}
	for _, out := range []string{"zones.png", "zones.svg"} {
		p := filepath.Join(dir, out)
		if err := Files(p, files, Options{}); err != nil {
			t.Fatal(err)
		}
		checkImage(t, p)
	}
	svg, _ := os.ReadFile(filepath.Join(dir, "zones.svg"))
	for _, want := range []string{"zone 1", "zone 3", "wpaxos", "vpaxos"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

func TestFilesErrors(t *testing.T) {
	dir := t.TempDir()
	sweep := write(t, filepath.Join(dir, "s.csv"), func(f *os.File) error { return benchmark.WriteSweepCSV(f, sweepPoints("x", 1)) })
	stats := write(t, filepath.Join(dir, "z.csv"), func(f *os.File) error {
		return benchmark.WriteStatsCSV(f, benchmark.Summary{Zones: []benchmark.ZoneStats{{Zone: 1}}})
	})
	junk := write(t, filepath.Join(dir, "j.csv"), func(f *os.File) error { _, err := f.WriteString("a,b\n1,2\n"); return err })
	tests := []struct {
		out   string
		files []string
		opt   Options
		want  string
	}{
		{"x.png", nil, Options{}, "no input files"},
		{"x.png", []string{sweep, stats}, Options{}, "plot one kind at a time"},
		{"x.png", []string{junk}, Options{}, "not a latency, stats or sweep file"},
		{"x.png", []string{filepath.Join(dir, "none.csv")}, Options{}, "no such file"},
		{"x.png", []string{sweep}, Options{Kind: CDF}, `a "cdf" plot needs latency files`},
		{"x.png", []string{sweep}, Options{Metric: "p42"}, `metric "p42"`},
		{"x.gif", []string{sweep}, Options{}, "the extension must be one of"},
	}
	for _, tt := range tests {
		err := Files(filepath.Join(dir, tt.out), tt.files, tt.opt)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Files(%s, %v, %+v) = %v, want %q", tt.out, tt.files, tt.opt, err, tt.want)
		}
	}
}

func TestSeriesLabel(t *testing.T) {
	for _, tt := range [][3]string{
		{"paxos", "r/x.csv", "paxos"},
		{"", "r/fpaxos.csv", "fpaxos"},
		{"-", "results/epaxos/latency.csv", "epaxos"},
		{"", "latency.csv", "latency"},
	} {
		if got := seriesLabel(tt[0], tt[1]); got != tt[2] {
			t.Errorf("seriesLabel(%q, %q) = %q, want %q", tt[0], tt[1], got, tt[2])
		}
	}
}

// Two files with one label are told apart by file name.
func TestDedupe(t *testing.T) {
	a, b, c := "paxos", "paxos", "epaxos"
	dedupe([]*string{&a, &b, &c}, []string{"r/run1.csv", "r/run2.csv", "r/x.csv"})
	if a != "paxos (run1)" || b != "paxos (run2)" || c != "epaxos" {
		t.Fatalf("%q %q %q", a, b, c)
	}
}

func TestLines(t *testing.T) {
	series := []LineSeries{
		{Label: "paxos", Points: []Point{{0, 80}, {50, 82}, {100, 85}}},
		{Label: "wpaxos", Points: []Point{{0, 5}, {50, 60}, {100, 120}}},
		{Label: "empty"},
	}
	p, err := NewLines(series, "conflict (%)", "mean latency (ms)", Options{Title: "Ohio"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Y.Max < 120 || p.Y.Min != 0 {
		t.Errorf("y axis %v..%v does not cover 0..120", p.Y.Min, p.Y.Max)
	}
	out := filepath.Join(t.TempDir(), "lines.png")
	if err := Save(p, out, Options{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() < 1000 {
		t.Fatalf("%s: %v", out, err)
	}
	if _, err := NewLines([]LineSeries{{Label: "none"}}, "x", "y", Options{}); err == nil {
		t.Error("a plot with no points drew without an error")
	}
}
