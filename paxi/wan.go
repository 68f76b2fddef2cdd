package paxi

import (
	"fmt"
	"time"
)

// WAN emulates a wide-area network on one machine: every message between
// two nodes is delayed by half the round-trip time between their zones, so
// WAN protocols can be compared on loopback.
type WAN struct {
	// Preset names a built-in matrix instead of RTT: "aws5" is five regions
	// as zones 1-5: Virginia, Ohio, California, Ireland, Japan.
	Preset string `json:"preset,omitempty"`
	// RTT[i][j] is the round-trip time between zones i+1 and j+1, e.g.
	// [["0s", "62ms"], ["62ms", "0s"]]. The diagonal is the round trip
	// inside a zone.
	RTT [][]Duration `json:"rtt,omitempty"`
}

// Presets are the built-in RTT matrices. aws5 uses approximate median
// round-trip times between the AWS regions us-east-1 (Virginia), us-east-2
// (Ohio), us-west-1 (California), eu-west-1 (Ireland) and ap-northeast-1
// (Japan) as published by public inter-region latency measurements.
var Presets = map[string][][]time.Duration{
	"aws5": ms([][]float64{
		{0, 11, 62, 68, 145},
		{11, 0, 50, 78, 133},
		{62, 50, 0, 130, 107},
		{68, 78, 130, 0, 200},
		{145, 133, 107, 200, 0},
	}),
}

// PresetZones names the zones of each preset, in order.
var PresetZones = map[string][]string{
	"aws5": {"Virginia", "Ohio", "California", "Ireland", "Japan"},
}

func ms(m [][]float64) [][]time.Duration {
	out := make([][]time.Duration, len(m))
	for i, row := range m {
		out[i] = make([]time.Duration, len(row))
		for j, v := range row {
			out[i][j] = time.Duration(v * float64(time.Millisecond))
		}
	}
	return out
}

// Matrix returns the RTT matrix in force: the preset's or RTT.
func (w *WAN) Matrix() [][]time.Duration {
	if w == nil {
		return nil
	}
	if w.Preset != "" {
		return Presets[w.Preset]
	}
	out := make([][]time.Duration, len(w.RTT))
	for i, row := range w.RTT {
		out[i] = make([]time.Duration, len(row))
		for j, v := range row {
			out[i][j] = time.Duration(v)
		}
	}
	return out
}

// validate checks the matrix against the zones in use.
func (w *WAN) validate(zones []int) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if w.Preset != "" {
		if len(w.RTT) > 0 {
			bad("wan: give either preset or rtt, not both")
		}
		if _, ok := Presets[w.Preset]; !ok {
			bad("wan.preset = %q: unknown; built-in presets: aws5", w.Preset)
			return errs
		}
	} else if len(w.RTT) == 0 {
		bad("wan: give a preset (e.g. \"aws5\") or an rtt matrix")
		return errs
	}
	m := w.Matrix()
	for i, row := range m {
		if len(row) != len(m) {
			bad("wan.rtt row %d has %d entries: the matrix must be square (%d)", i+1, len(row), len(m))
			continue
		}
		for j, v := range row {
			if v < 0 || v > time.Minute {
				bad("wan.rtt[%d][%d] = %v: must be in [0, 1m]", i+1, j+1, v)
			}
			if j < len(m) && i < len(m[j]) && m[j][i] != v {
				bad("wan.rtt[%d][%d] = %v but wan.rtt[%d][%d] = %v: the matrix must be symmetric", i+1, j+1, v, j+1, i+1, m[j][i])
			}
		}
	}
	if len(zones) > 0 && zones[len(zones)-1] > len(m) {
		bad("wan: zone %d is used but the matrix covers zones 1-%d", zones[len(zones)-1], len(m))
	}
	return errs
}

// OneWay returns the emulated one-way delay from node a to node b: half
// the RTT between their zones, or 0 without a WAN section.
func (c *Config) OneWay(a, b ID) time.Duration {
	m := c.WAN.Matrix()
	if m == nil {
		return 0
	}
	return m[a.Zone()-1][b.Zone()-1] / 2
}
