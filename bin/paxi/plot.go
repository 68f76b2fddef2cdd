package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"gonum.org/v1/plot/vg"

	"github.com/ailidani/paxi-style/benchmark/plot"
)

const plotDescription = `Draws benchmark result files into one figure, PNG, SVG or PDF by the extension of -o:

  sweep files (paxi bench sweep -o)   latency vs throughput, one line per file (or per label)
  latency files (latency.csv)         latency CDF, one line per file
  stats files (stats.csv)             latency per zone, one bar set per file

The kind comes from the files' CSV header (or -kind); all files must be of one kind. Flags may
come before or after the files, e.g. paxi plot results/*/sweep.csv -o fig.png`

func runPlot(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("plot", plotDescription, stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: paxi plot [flags] file...\n\n%s\n\nFlags:\n", plotDescription)
		fs.PrintDefaults()
	}
	out := fs.String("o", "", "output `file`: .png, .svg or .pdf (required)")
	kind := fs.String("kind", "", "plot kind: "+strings.Join(plot.Kinds, ", ")+" (lt: latency vs throughput); empty: from the files' header")
	metric := fs.String("y", "p50", "latency metric of lt and zones plots: "+strings.Join(plot.Metrics, ", "))
	title := fs.String("title", "", "figure title (empty: a default for the kind)")
	logx := fs.Bool("logx", false, "cdf: draw latency on a log scale, to show the tail")
	width := fs.Float64("width", 6, "figure width in inches")
	height := fs.Float64("height", 4, "figure height in inches")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	var errs []error
	if *out == "" {
		errs = append(errs, errors.New("-o is required: name the output file, e.g. -o fig.png"))
	} else if err := checkPlotFile(*out); err != nil {
		errs = append(errs, fmt.Errorf("-o: %w", err))
	}
	if len(files) == 0 {
		errs = append(errs, errors.New("no input files: give sweep, latency or stats CSV files"))
	}
	if *kind != "" && !contains(plot.Kinds, *kind) {
		errs = append(errs, fmt.Errorf("-kind %q: must be one of %s", *kind, strings.Join(plot.Kinds, ", ")))
	}
	if !contains(plot.Metrics, *metric) {
		errs = append(errs, fmt.Errorf("-y %q: must be one of %s", *metric, strings.Join(plot.Metrics, ", ")))
	}
	if *width <= 0 || *height <= 0 || *width > 100 || *height > 100 {
		errs = append(errs, fmt.Errorf("-width %g -height %g: must be in (0,100] inches", *width, *height))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	opt := plot.Options{Kind: *kind, Metric: *metric, Title: *title, LogX: *logx,
		Width: vg.Length(*width) * vg.Inch, Height: vg.Length(*height) * vg.Inch}
	if err := plot.Files(*out, files, opt); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s\n", *out)
	return nil
}

// parseInterspersed parses flags that may come before, between or after
// positional arguments (the flag package stops at the first positional one)
// and returns the positional arguments. "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
