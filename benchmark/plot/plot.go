package plot

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/ailidani/paxi-style/benchmark"
)

// Kinds of plot.
const (
	// LatencyThroughput draws latency against throughput, one line per
	// series, from sweep files.
	LatencyThroughput = "lt"
	// CDF draws the cumulative distribution of latency, one line per
	// series, from latency files.
	CDF = "cdf"
	// Zones draws a latency metric per zone as bars, one bar set per
	// series, from stats files.
	Zones = "zones"
)

// Kinds lists the plot kinds.
var Kinds = []string{LatencyThroughput, CDF, Zones}

// kindOfFile maps the kind of a CSV file to the plot it feeds.
var kindOfFile = map[string]string{
	benchmark.KindSweep:   LatencyThroughput,
	benchmark.KindLatency: CDF,
	benchmark.KindStats:   Zones,
}

// Metrics are the latency metrics a plot can show.
var Metrics = []string{"mean", "p50", "p95", "p99", "p999", "max"}

// Options adjust a plot. Zero values take the defaults.
type Options struct {
	// Kind is LatencyThroughput, CDF or Zones; "" picks it from the first
	// file's CSV header (sweep, latency or stats file).
	Kind string
	// Metric is the latency shown by LatencyThroughput and Zones plots
	// (default "p50").
	Metric string
	// Title is the plot's title ("" for a default one).
	Title string
	// LogX draws the latency axis of a CDF on a log scale, which shows the
	// tail.
	LogX bool
	// ZoneNames, if set, names zone z ZoneNames[z-1] on per-zone plots
	// (e.g. the regions of a WAN preset) instead of "zone z".
	ZoneNames []string
	// Width and Height are the size of the figure (default 6 x 4 inches;
	// a PNG is drawn at 96 dots per inch).
	Width, Height vg.Length
}

func (o Options) withDefaults() Options {
	if o.Metric == "" {
		o.Metric = "p50"
	}
	if o.Width <= 0 {
		o.Width = 6 * vg.Inch
	}
	if o.Height <= 0 {
		o.Height = 4 * vg.Inch
	}
	return o
}

// metric returns the accessor of a latency metric.
func metric(name string) (func(benchmark.Stats) time.Duration, error) {
	switch name {
	case "mean":
		return func(s benchmark.Stats) time.Duration { return s.Mean }, nil
	case "p50":
		return func(s benchmark.Stats) time.Duration { return s.P50 }, nil
	case "p95":
		return func(s benchmark.Stats) time.Duration { return s.P95 }, nil
	case "p99":
		return func(s benchmark.Stats) time.Duration { return s.P99 }, nil
	case "p999", "p99.9":
		return func(s benchmark.Stats) time.Duration { return s.P999 }, nil
	case "max":
		return func(s benchmark.Stats) time.Duration { return s.Max }, nil
	}
	return nil, fmt.Errorf("plot: metric %q: must be one of %q", name, Metrics)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Formats are the file extensions Save writes.
var Formats = []string{".png", ".svg", ".pdf"}

// Save writes the plot to out in the format its extension names (.png,
// .svg or .pdf).
func Save(p *gplot.Plot, out string, opt Options) error {
	opt = opt.withDefaults()
	ext := strings.ToLower(filepath.Ext(out))
	if !slices.Contains(Formats, ext) {
		return fmt.Errorf("plot: output %q: the extension must be one of %q", out, Formats)
	}
	if err := p.Save(opt.Width, opt.Height, out); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

// SweepSeries is one line of a latency-versus-throughput plot.
type SweepSeries struct {
	// Label names the line in the legend.
	Label string
	// Points are the sweep's levels, in order of concurrency.
	Points []benchmark.SweepPoint
}

// NewLatencyThroughput draws the chosen latency metric (ms) against
// throughput (ops/s), one line with points per series: the Paxi paper's
// kind of figure, where a curve bending upwards marks saturation.
func NewLatencyThroughput(series []SweepSeries, opt Options) (*gplot.Plot, error) {
	opt = opt.withDefaults()
	get, err := metric(opt.Metric)
	if err != nil {
		return nil, err
	}
	p := gplot.New()
	p.Title.Text = opt.Title
	if p.Title.Text == "" {
		p.Title.Text = "Latency vs throughput"
	}
	p.X.Label.Text = "throughput (ops/s); points labelled by number of clients"
	p.Y.Label.Text = opt.Metric + " latency (ms)"
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), vg.Points(-4)
	p.Add(plotter.NewGrid())
	var args []any
	for _, s := range series {
		if len(s.Points) == 0 {
			return nil, fmt.Errorf("plot: series %q has no points", s.Label)
		}
		xys := make(plotter.XYs, len(s.Points))
		for i, pt := range s.Points {
			xys[i].X = pt.Summary.Overall.Throughput
			xys[i].Y = ms(get(pt.Summary.Overall))
		}
		args = append(args, s.Label, xys)
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("plot: nothing to draw")
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	// Name each point by its number of clients, so that the knee can be
	// read off the figure.
	for _, s := range series {
		l := plotter.XYLabels{XYs: make(plotter.XYs, len(s.Points)), Labels: make([]string, len(s.Points))}
		for i, pt := range s.Points {
			l.XYs[i] = plotter.XY{X: pt.Summary.Overall.Throughput, Y: ms(get(pt.Summary.Overall))}
			l.Labels[i] = strconv.Itoa(pt.Concurrency)
		}
		labels, err := plotter.NewLabels(l)
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		for i := range labels.TextStyle {
			labels.TextStyle[i].Font.Size = vg.Points(8)
		}
		labels.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(3)}
		p.Add(labels)
	}
	p.X.Min, p.Y.Min = 0, 0
	return p, nil
}

// LatencySeries is one line of a CDF plot: the latencies of successful
// requests.
type LatencySeries struct {
	// Label names the line in the legend.
	Label string
	// Latencies are the latencies, in any order.
	Latencies []time.Duration
}

// cdfPoints is how many points a CDF line is reduced to: enough to look
// smooth, few enough that an SVG of a million requests stays small.
const cdfPoints = 1000

// NewCDF draws the cumulative distribution of latency, one line per series.
func NewCDF(series []LatencySeries, opt Options) (*gplot.Plot, error) {
	opt = opt.withDefaults()
	p := gplot.New()
	p.Title.Text = opt.Title
	if p.Title.Text == "" {
		p.Title.Text = "Latency CDF"
	}
	p.X.Label.Text = "latency (ms)"
	p.Y.Label.Text = "fraction of requests"
	p.Legend.Top, p.Legend.Left = false, false
	p.Add(plotter.NewGrid())
	var args []any
	for _, s := range series {
		if len(s.Latencies) == 0 {
			return nil, fmt.Errorf("plot: series %q has no successful requests", s.Label)
		}
		ls := slices.Clone(s.Latencies)
		slices.Sort(ls)
		n := min(len(ls), cdfPoints)
		xys := make(plotter.XYs, 0, n+1)
		for i := 0; i <= n; i++ {
			// The i/n quantile, by nearest rank.
			q := float64(i) / float64(n)
			x := benchmark.Percentile(ls, q)
			if opt.LogX && x <= 0 {
				continue
			}
			xys = append(xys, plotter.XY{X: ms(x), Y: q})
		}
		args = append(args, s.Label, xys)
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("plot: nothing to draw")
	}
	if err := plotutil.AddLines(p, args...); err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	if opt.LogX {
		p.X.Scale = gplot.LogScale{}
		p.X.Tick.Marker = gplot.LogTicks{Prec: -1}
	} else {
		p.X.Min = 0
	}
	p.Y.Min, p.Y.Max = 0, 1
	return p, nil
}

// ZoneSeries is one bar set of a per-zone plot.
type ZoneSeries struct {
	// Label names the bar set in the legend.
	Label string
	// Summary holds the per-zone statistics.
	Summary benchmark.Summary
}

// NewZoneBars draws the chosen latency metric per zone, one bar set per
// series side by side: the Paxi paper's locality figures, where each zone's
// latency shows how far it is from the data it uses.
func NewZoneBars(series []ZoneSeries, opt Options) (*gplot.Plot, error) {
	opt = opt.withDefaults()
	get, err := metric(opt.Metric)
	if err != nil {
		return nil, err
	}
	var zones []int
	for _, s := range series {
		for _, z := range s.Summary.Zones {
			if !slices.Contains(zones, z.Zone) {
				zones = append(zones, z.Zone)
			}
		}
	}
	if len(zones) == 0 {
		return nil, fmt.Errorf("plot: the stats have no zones")
	}
	slices.Sort(zones)
	p := gplot.New()
	p.Title.Text = opt.Title
	if p.Title.Text == "" {
		p.Title.Text = opt.Metric + " latency per zone"
	}
	p.Y.Label.Text = opt.Metric + " latency (ms)"
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	width := vg.Points(min(40, 200/float64(len(series)*len(zones))+8))
	for i, s := range series {
		vals := make(plotter.Values, len(zones))
		for j, z := range zones {
			for _, zs := range s.Summary.Zones {
				if zs.Zone == z {
					vals[j] = ms(get(zs.Stats))
				}
			}
		}
		b, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		b.Color = plotutil.Color(i)
		b.LineStyle.Width = vg.Length(0)
		b.Offset = vg.Length(float64(i)-float64(len(series)-1)/2) * width
		p.Add(b)
		p.Legend.Add(s.Label, b)
	}
	names := make([]string, len(zones))
	for j, z := range zones {
		names[j] = fmt.Sprintf("zone %d", z)
		if z >= 1 && z <= len(opt.ZoneNames) {
			names[j] = opt.ZoneNames[z-1]
		}
	}
	p.NominalX(names...)
	// Room around the outer bars and above the tallest, for the legend.
	p.X.Min, p.X.Max = -0.6, float64(len(zones))-0.4
	p.Y.Min, p.Y.Max = 0, p.Y.Max*1.2
	return p, nil
}

// Files reads result files, all of one kind, and draws the plot their kind
// calls for into out: sweep files make a latency-versus-throughput plot,
// latency files a CDF, stats files per-zone bars. Series are labelled by the
// files' label column, or by file name where it is empty or ambiguous.
func Files(out string, files []string, opt Options) error {
	if len(files) == 0 {
		return fmt.Errorf("plot: no input files")
	}
	kinds := make([]string, len(files))
	for i, f := range files {
		k, err := fileKind(f)
		if err != nil {
			return err
		}
		kinds[i] = k
		if k != kinds[0] {
			return fmt.Errorf("plot: %s is a %s file but %s is a %s file: plot one kind at a time", f, k, files[0], kinds[0])
		}
	}
	want := kindOfFile[kinds[0]]
	if opt.Kind == "" {
		opt.Kind = want
	}
	if opt.Kind != want {
		return fmt.Errorf("plot: a %q plot needs %s files, and %s is a %s file", opt.Kind, fileFor(opt.Kind), files[0], kinds[0])
	}
	var p *gplot.Plot
	var err error
	switch opt.Kind {
	case LatencyThroughput:
		var series []SweepSeries
		var from []string
		for _, f := range files {
			var pts []benchmark.SweepPoint
			if err := readFile(f, func(r *os.File) (err error) { pts, err = benchmark.ReadSweepCSV(r); return }); err != nil {
				return err
			}
			// A file may hold several labels (protocols) one after another.
			var order []string
			by := map[string][]benchmark.SweepPoint{}
			for _, pt := range pts {
				l := pt.Summary.Label
				if _, ok := by[l]; !ok {
					order = append(order, l)
				}
				by[l] = append(by[l], pt)
			}
			for _, l := range order {
				series = append(series, SweepSeries{Label: seriesLabel(l, f), Points: by[l]})
				from = append(from, f)
			}
		}
		labels := make([]*string, len(series))
		for i := range series {
			labels[i] = &series[i].Label
		}
		dedupe(labels, from)
		p, err = NewLatencyThroughput(series, opt)
	case CDF:
		var series []LatencySeries
		for _, f := range files {
			var reqs []benchmark.Request
			if err := readFile(f, func(r *os.File) (err error) { reqs, err = benchmark.ReadLatencyCSV(r); return }); err != nil {
				return err
			}
			var ls []time.Duration
			for _, q := range reqs {
				if q.Error == "" {
					ls = append(ls, q.Latency)
				}
			}
			series = append(series, LatencySeries{Label: seriesLabel("", f), Latencies: ls})
		}
		p, err = NewCDF(series, opt)
	case Zones:
		var series []ZoneSeries
		for _, f := range files {
			var s benchmark.Summary
			if err := readFile(f, func(r *os.File) (err error) { s, err = benchmark.ReadStatsCSV(r); return }); err != nil {
				return err
			}
			series = append(series, ZoneSeries{Label: seriesLabel(s.Label, f), Summary: s})
		}
		labels := make([]*string, len(series))
		for i := range series {
			labels[i] = &series[i].Label
		}
		dedupe(labels, files)
		p, err = NewZoneBars(series, opt)
	default:
		return fmt.Errorf("plot: kind %q: must be one of %q", opt.Kind, Kinds)
	}
	if err != nil {
		return err
	}
	return Save(p, out, opt)
}

func fileFor(kind string) string {
	for f, k := range kindOfFile {
		if k == kind {
			return f
		}
	}
	return "unknown"
}

// fileKind reads the header of a CSV file and tells its kind.
func fileKind(path string) (string, error) {
	var kind string
	err := readFile(path, func(f *os.File) error {
		var head [4096]byte
		n, _ := f.Read(head[:])
		line, _, _ := strings.Cut(string(head[:n]), "\n")
		k, err := benchmark.Kind(strings.Split(strings.TrimSpace(line), ","))
		kind = k
		return err
	})
	return kind, err
}

func readFile(path string, read func(*os.File) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	defer f.Close()
	if err := read(f); err != nil {
		return fmt.Errorf("plot: %s: %w", path, err)
	}
	return nil
}

// seriesLabel is the label column's value, or else the file's name without
// directory and extension, or, for the names "paxi bench -o DIR" gives its
// files, the name of DIR (results/epaxos/latency.csv is "epaxos").
func seriesLabel(label, file string) string {
	if label != "" && label != "-" {
		return label
	}
	name := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	if dir := filepath.Base(filepath.Dir(file)); slices.Contains(genericNames, name) && dir != "." && dir != string(filepath.Separator) {
		return dir
	}
	return name
}

// genericNames are the file names paxi bench and paxi sweep write.
var genericNames = []string{"latency", "stats", "sweep"}

// dedupe adds the file name to labels that several series share ("paxos
// (run1)", "paxos (run2)"), so that every line of a legend can be told
// apart.
func dedupe(labels []*string, files []string) {
	count := map[string]int{}
	for _, l := range labels {
		count[*l]++
	}
	for i, l := range labels {
		if count[*l] > 1 {
			*l = fmt.Sprintf("%s (%s)", *l, seriesLabel("", files[i]))
		}
	}
}
