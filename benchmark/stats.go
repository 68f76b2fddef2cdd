package benchmark

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Stats summarises a set of requests: how many, how fast, and the
// distribution of the latency of the successful ones.
type Stats struct {
	// Ops is the number of requests that succeeded; Errors the number that
	// failed (no answer, an error status, a timeout). Failed requests are
	// not in the latency figures.
	Ops, Errors int
	// Reads and Writes split Ops.
	Reads, Writes int
	// Duration is the time the requests took, from the start of the run to
	// the last answer.
	Duration time.Duration
	// Throughput is Ops per second of Duration.
	Throughput float64
	// Latency of successful requests: from the request's scheduled start
	// under a throttle, from when it was sent otherwise.
	Mean, Min, P50, P95, P99, P999, Max time.Duration
}

// Summarize computes the latency fields and Ops of Stats from latencies; it
// sorts ls in place.
func Summarize(ls []time.Duration) Stats {
	if len(ls) == 0 {
		return Stats{}
	}
	slices.Sort(ls)
	var sum float64
	for _, l := range ls {
		sum += float64(l)
	}
	return Stats{
		Ops:  len(ls),
		Mean: time.Duration(math.Round(sum / float64(len(ls)))),
		Min:  ls[0],
		P50:  Percentile(ls, 0.50),
		P95:  Percentile(ls, 0.95),
		P99:  Percentile(ls, 0.99),
		P999: Percentile(ls, 0.999),
		Max:  ls[len(ls)-1],
	}
}

// Percentile returns the q-quantile (0 <= q <= 1) of sorted latencies by the
// nearest-rank method: the smallest latency that at least a fraction q of
// the requests do not exceed. It is always an observed value.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted))-1e-9)) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// String prints the statistics in milliseconds.
func (s Stats) String() string {
	return fmt.Sprintf("ops=%d errors=%d throughput=%.0f ops/s mean=%.3fms p50=%.3fms p95=%.3fms p99=%.3fms p99.9=%.3fms max=%.3fms",
		s.Ops, s.Errors, s.Throughput, ms(s.Mean), ms(s.P50), ms(s.P95), ms(s.P99), ms(s.P999), ms(s.Max))
}

// ZoneStats are the statistics of the clients of one zone.
type ZoneStats struct {
	// Zone is the zone number (from 1).
	Zone int
	// Clients is the number of clients in the zone.
	Clients int
	Stats
}

// Summary is what a run measured, overall and per zone.
type Summary struct {
	// Label names what was measured (a protocol, a configuration); it
	// labels table rows, CSV rows and plot lines.
	Label string
	// Concurrency is the number of clients.
	Concurrency int
	// Throttle is the target rate (0: closed loop).
	Throttle float64
	// Overall covers every client.
	Overall Stats
	// Zones has one entry per zone that had clients, by zone number.
	Zones []ZoneStats
	// Backlog is, under a throttle, the number of requests whose scheduled
	// start fell within the run but that were never sent because their
	// client was still waiting for earlier answers: a sign that the system
	// could not keep up with the target rate.
	Backlog int64
	// FirstError is the first failure seen, if any ("" otherwise).
	FirstError string
}

// ErrorRate is the fraction of requests that failed.
func (s Summary) ErrorRate() float64 {
	n := s.Overall.Ops + s.Overall.Errors
	if n == 0 {
		return 0
	}
	return float64(s.Overall.Errors) / float64(n)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fromMS(f float64) time.Duration { return time.Duration(math.Round(f * float64(time.Millisecond))) }

// tableHeader is the column header of PrintTable and PrintSweepTable after
// their first columns.
const tableHeader = "ops\terrors\tseconds\tops/s\tmean_ms\tp50_ms\tp95_ms\tp99_ms\tp99.9_ms\tmax_ms"

func tableRow(s Stats) string {
	return fmt.Sprintf("%d\t%d\t%.2f\t%.0f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f",
		s.Ops, s.Errors, s.Duration.Seconds(), s.Throughput,
		ms(s.Mean), ms(s.P50), ms(s.P95), ms(s.P99), ms(s.P999), ms(s.Max))
}

// PrintTable prints the summary as an aligned table: one row for all
// clients, then one per zone when there are several zones.
func PrintTable(w io.Writer, s Summary) error {
	var tb bytes.Buffer
	tw := tabwriter.NewWriter(&tb, 0, 0, 2, ' ', tabwriter.AlignRight)
	labels := padLabels("label", s.Label)
	fmt.Fprintf(tw, "%s\tzone\tclients\t%s\t\n", labels[0], tableHeader)
	fmt.Fprintf(tw, "%s\tall\t%d\t%s\t\n", labels[1], s.Concurrency, tableRow(s.Overall))
	if len(s.Zones) > 1 {
		for _, z := range s.Zones {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t\n", labels[1], z.Zone, z.Clients, tableRow(z.Stats))
		}
	}
	if err := flushTable(w, tw, &tb); err != nil {
		return err
	}
	if s.Backlog > 0 {
		fmt.Fprintf(w, "backlog: %d requests scheduled by the %.0f ops/s throttle were never sent (the system fell behind)\n", s.Backlog, s.Throttle)
	}
	if s.FirstError != "" {
		fmt.Fprintf(w, "first error: %s\n", s.FirstError)
	}
	return nil
}

// flushTable flushes a right-aligned tabwriter that wrote into tb and
// copies the table to w without the padding it puts before the first
// column.
func flushTable(w io.Writer, tw *tabwriter.Writer, tb *bytes.Buffer) error {
	if err := tw.Flush(); err != nil {
		return err
	}
	lines := strings.SplitAfter(tb.String(), "\n")
	for _, l := range lines {
		if _, err := io.WriteString(w, strings.TrimPrefix(l, "  ")); err != nil {
			return err
		}
	}
	return nil
}

// padLabels pads labels ("" becomes "-") to one width, so that the first
// column of a right-aligned table reads left-aligned.
func padLabels(labels ...string) []string {
	width := 0
	for i, l := range labels {
		if l == "" {
			labels[i] = "-"
		}
		width = max(width, len(labels[i]))
	}
	for i, l := range labels {
		labels[i] = l + strings.Repeat(" ", width-len(l))
	}
	return labels
}

// statsJSON is the JSON form of Stats: latencies in milliseconds, so the
// file reads without knowing Go's nanosecond durations.
type statsJSON struct {
	Ops        int     `json:"ops"`
	Errors     int     `json:"errors"`
	Reads      int     `json:"reads"`
	Writes     int     `json:"writes"`
	Seconds    float64 `json:"seconds"`
	Throughput float64 `json:"throughput"`
	MeanMS     float64 `json:"mean_ms"`
	MinMS      float64 `json:"min_ms"`
	P50MS      float64 `json:"p50_ms"`
	P95MS      float64 `json:"p95_ms"`
	P99MS      float64 `json:"p99_ms"`
	P999MS     float64 `json:"p999_ms"`
	MaxMS      float64 `json:"max_ms"`
}

// MarshalJSON writes durations as milliseconds ("p50_ms": 1.25).
func (s Stats) MarshalJSON() ([]byte, error) {
	return json.Marshal(statsJSON{
		Ops: s.Ops, Errors: s.Errors, Reads: s.Reads, Writes: s.Writes,
		Seconds: s.Duration.Seconds(), Throughput: s.Throughput,
		MeanMS: ms(s.Mean), MinMS: ms(s.Min), P50MS: ms(s.P50), P95MS: ms(s.P95),
		P99MS: ms(s.P99), P999MS: ms(s.P999), MaxMS: ms(s.Max),
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Stats) UnmarshalJSON(b []byte) error {
	var j statsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Stats{
		Ops: j.Ops, Errors: j.Errors, Reads: j.Reads, Writes: j.Writes,
		Duration: time.Duration(math.Round(j.Seconds * float64(time.Second))), Throughput: j.Throughput,
		Mean: fromMS(j.MeanMS), Min: fromMS(j.MinMS), P50: fromMS(j.P50MS), P95: fromMS(j.P95MS),
		P99: fromMS(j.P99MS), P999: fromMS(j.P999MS), Max: fromMS(j.MaxMS),
	}
	return nil
}

// summaryJSON is the JSON form of Summary.
type summaryJSON struct {
	Label       string          `json:"label"`
	Concurrency int             `json:"concurrency"`
	Throttle    float64         `json:"throttle"`
	Overall     Stats           `json:"overall"`
	Zones       []zoneStatsJSON `json:"zones"`
	Backlog     int64           `json:"backlog"`
	FirstError  string          `json:"first_error,omitempty"`
}

type zoneStatsJSON struct {
	Zone    int   `json:"zone"`
	Clients int   `json:"clients"`
	Stats   Stats `json:"stats"`
}

// WriteSummaryJSON writes the summary as an indented JSON object.
func WriteSummaryJSON(w io.Writer, s Summary) error {
	j := summaryJSON{Label: s.Label, Concurrency: s.Concurrency, Throttle: s.Throttle,
		Overall: s.Overall, Backlog: s.Backlog, FirstError: s.FirstError, Zones: []zoneStatsJSON{}}
	for _, z := range s.Zones {
		j.Zones = append(j.Zones, zoneStatsJSON{Zone: z.Zone, Clients: z.Clients, Stats: z.Stats})
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ReadSummaryJSON reads what WriteSummaryJSON writes.
func ReadSummaryJSON(r io.Reader) (Summary, error) {
	var j summaryJSON
	if err := json.NewDecoder(r).Decode(&j); err != nil {
		return Summary{}, fmt.Errorf("benchmark: stats JSON: %w", err)
	}
	s := Summary{Label: j.Label, Concurrency: j.Concurrency, Throttle: j.Throttle,
		Overall: j.Overall, Backlog: j.Backlog, FirstError: j.FirstError}
	for _, z := range j.Zones {
		s.Zones = append(s.Zones, ZoneStats{Zone: z.Zone, Clients: z.Clients, Stats: z.Stats})
	}
	return s, nil
}

// statsColumns are the CSV columns of a Stats, shared by the stats and
// sweep files so that tools read both alike.
var statsColumns = []string{"ops", "errors", "reads", "writes", "seconds", "throughput",
	"mean_ms", "min_ms", "p50_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms"}

func statsRecord(s Stats) []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	return []string{
		strconv.Itoa(s.Ops), strconv.Itoa(s.Errors), strconv.Itoa(s.Reads), strconv.Itoa(s.Writes),
		f(s.Duration.Seconds()), f(s.Throughput),
		f(ms(s.Mean)), f(ms(s.Min)), f(ms(s.P50)), f(ms(s.P95)), f(ms(s.P99)), f(ms(s.P999)), f(ms(s.Max)),
	}
}

// parseStats reads the statsColumns of a CSV row through col, which maps a
// column name to its value.
func parseStats(col func(string) (string, error)) (Stats, error) {
	var s Stats
	var vals [13]float64
	for i, name := range statsColumns {
		v, err := col(name)
		if err != nil {
			return Stats{}, err
		}
		if vals[i], err = strconv.ParseFloat(v, 64); err != nil {
			return Stats{}, fmt.Errorf("column %s: %w", name, err)
		}
	}
	s.Ops, s.Errors, s.Reads, s.Writes = int(vals[0]), int(vals[1]), int(vals[2]), int(vals[3])
	s.Duration = time.Duration(math.Round(vals[4] * float64(time.Second)))
	s.Throughput = vals[5]
	s.Mean, s.Min, s.P50, s.P95 = fromMS(vals[6]), fromMS(vals[7]), fromMS(vals[8]), fromMS(vals[9])
	s.P99, s.P999, s.Max = fromMS(vals[10]), fromMS(vals[11]), fromMS(vals[12])
	return s, nil
}
