package plot

import (
	"fmt"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
)

// Point is one measurement of a line plot: a latency (Y, in ms) at a value
// of the experiment's parameter (X, e.g. the conflict percentage).
type Point struct{ X, Y float64 }

// LineSeries is one line of a line plot, e.g. one protocol.
type LineSeries struct {
	// Label names the line in the legend.
	Label string
	// Points are the line's measurements, in the order they are drawn.
	Points []Point
}

// NewLines draws one line with points per series, y against x: the Paxi
// paper's kind of figure for a latency as a workload parameter changes
// (Figure 11: latency per region as the conflict rate rises).
func NewLines(series []LineSeries, xLabel, yLabel string, opt Options) (*gplot.Plot, error) {
	opt = opt.withDefaults()
	p := gplot.New()
	p.Title.Text = opt.Title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	var args []any
	for _, s := range series {
		if len(s.Points) == 0 {
			continue
		}
		xys := make(plotter.XYs, len(s.Points))
		for i, pt := range s.Points {
			xys[i] = plotter.XY{X: pt.X, Y: pt.Y}
		}
		args = append(args, s.Label, xys)
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("plot: nothing to draw")
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	p.Y.Min = 0
	p.Y.Max *= 1.25 // room for the legend
	return p, nil
}
