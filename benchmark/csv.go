package benchmark

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
)

// The kinds of CSV file this package writes, told apart by their header
// (see Kind) so that a plotting tool can be handed any of them.
const (
	// KindLatency is a latency file: one row per request (WriteLatencyCSV).
	KindLatency = "latency"
	// KindStats is a statistics file: one row overall and one per zone
	// (WriteStatsCSV).
	KindStats = "stats"
	// KindSweep is a sweep file: one row per concurrency level
	// (WriteSweepCSV).
	KindSweep = "sweep"
)

// Kind tells which kind of file a CSV header belongs to.
func Kind(header []string) (string, error) {
	has := func(c string) bool { return slices.Contains(header, c) }
	switch {
	case has("concurrency") && has("throughput"):
		return KindSweep, nil
	case has("latency_ns"):
		return KindLatency, nil
	case has("zone") && has("p50_ms"):
		return KindStats, nil
	}
	return "", fmt.Errorf("benchmark: CSV header %q is not a latency, stats or sweep file", header)
}

// table is a CSV file read into memory with its header.
type table struct {
	header []string
	rows   [][]string
}

func readTable(r io.Reader, kind string) (*table, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("benchmark: empty CSV file")
		}
		return nil, fmt.Errorf("benchmark: CSV: %w", err)
	}
	if k, err := Kind(header); err != nil {
		return nil, err
	} else if k != kind {
		return nil, fmt.Errorf("benchmark: this is a %s file, not a %s file", k, kind)
	}
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("benchmark: CSV: %w", err)
	}
	return &table{header: header, rows: rows}, nil
}

// col returns a lookup of row's columns by name.
func (t *table) col(row []string) func(string) (string, error) {
	return func(name string) (string, error) {
		i := slices.Index(t.header, name)
		if i < 0 {
			return "", fmt.Errorf("no column %q", name)
		}
		if i >= len(row) {
			return "", fmt.Errorf("column %q missing from row", name)
		}
		return row[i], nil
	}
}

func atoi(col func(string) (string, error), name string) (int, error) {
	v, err := col(name)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("column %s: %w", name, err)
	}
	return n, nil
}

// WriteStatsCSV writes a summary as CSV: a header, a row for all clients
// (zone "all"), then one row per zone.
func WriteStatsCSV(w io.Writer, s Summary) error {
	cw := csv.NewWriter(w)
	cw.Write(append([]string{"label", "zone", "clients", "throttle", "backlog"}, statsColumns...))
	head := func(zone string, clients int) []string {
		return []string{s.Label, zone, strconv.Itoa(clients), strconv.FormatFloat(s.Throttle, 'f', -1, 64), strconv.FormatInt(s.Backlog, 10)}
	}
	cw.Write(append(head("all", s.Concurrency), statsRecord(s.Overall)...))
	for _, z := range s.Zones {
		cw.Write(append(head(strconv.Itoa(z.Zone), z.Clients), statsRecord(z.Stats)...))
	}
	cw.Flush()
	return cw.Error()
}

// ReadStatsCSV reads what WriteStatsCSV writes. (FirstError is not kept in
// the CSV form; the JSON form has it.)
func ReadStatsCSV(r io.Reader) (Summary, error) {
	t, err := readTable(r, KindStats)
	if err != nil {
		return Summary{}, err
	}
	var s Summary
	for i, row := range t.rows {
		col := t.col(row)
		st, err := parseStats(col)
		if err != nil {
			return Summary{}, fmt.Errorf("benchmark: stats CSV row %d: %w", i+2, err)
		}
		clients, err := atoi(col, "clients")
		if err != nil {
			return Summary{}, fmt.Errorf("benchmark: stats CSV row %d: %w", i+2, err)
		}
		zone, _ := col("zone")
		if zone == "all" {
			s.Label, _ = col("label")
			s.Concurrency = clients
			s.Overall = st
			if v, err := col("throttle"); err == nil {
				s.Throttle, _ = strconv.ParseFloat(v, 64)
			}
			if v, err := col("backlog"); err == nil {
				s.Backlog, _ = strconv.ParseInt(v, 10, 64)
			}
			continue
		}
		z, err := strconv.Atoi(zone)
		if err != nil {
			return Summary{}, fmt.Errorf("benchmark: stats CSV row %d: zone %q: want a number or \"all\"", i+2, zone)
		}
		s.Zones = append(s.Zones, ZoneStats{Zone: z, Clients: clients, Stats: st})
	}
	return s, nil
}

// sweepColumns head a sweep file, before statsColumns.
var sweepColumns = []string{"label", "concurrency", "throttle", "backlog", "error_rate"}

// WriteSweepCSV writes one row per concurrency level of a sweep, with the
// overall statistics of each: the latency-versus-throughput curve.
func WriteSweepCSV(w io.Writer, points []SweepPoint) error {
	cw := csv.NewWriter(w)
	cw.Write(append(slices.Clone(sweepColumns), statsColumns...))
	for _, p := range points {
		s := p.Summary
		cw.Write(append([]string{s.Label, strconv.Itoa(p.Concurrency),
			strconv.FormatFloat(s.Throttle, 'f', -1, 64), strconv.FormatInt(s.Backlog, 10),
			strconv.FormatFloat(s.ErrorRate(), 'f', -1, 64)}, statsRecord(s.Overall)...))
	}
	cw.Flush()
	return cw.Error()
}

// ReadSweepCSV reads what WriteSweepCSV writes (per-zone statistics are not
// part of a sweep file).
func ReadSweepCSV(r io.Reader) ([]SweepPoint, error) {
	t, err := readTable(r, KindSweep)
	if err != nil {
		return nil, err
	}
	var out []SweepPoint
	for i, row := range t.rows {
		col := t.col(row)
		st, err := parseStats(col)
		if err != nil {
			return nil, fmt.Errorf("benchmark: sweep CSV row %d: %w", i+2, err)
		}
		c, err := atoi(col, "concurrency")
		if err != nil {
			return nil, fmt.Errorf("benchmark: sweep CSV row %d: %w", i+2, err)
		}
		s := Summary{Concurrency: c, Overall: st}
		s.Label, _ = col("label")
		if v, err := col("throttle"); err == nil {
			s.Throttle, _ = strconv.ParseFloat(v, 64)
		}
		if v, err := col("backlog"); err == nil {
			s.Backlog, _ = strconv.ParseInt(v, 10, 64)
		}
		out = append(out, SweepPoint{Concurrency: c, Summary: s})
	}
	return out, nil
}

// latencyColumns head a latency file.
var latencyColumns = []string{"client", "zone", "node", "op", "key", "size", "found",
	"scheduled_ns", "start_ns", "end_ns", "latency_ns", "error"}

// WriteLatencyCSV writes one row per request, client by client in the order
// each sent them. Times are wall-clock Unix nanoseconds; latency_ns is
// end_ns minus scheduled_ns (which is start_ns unless throttled).
func (r *Result) WriteLatencyCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(latencyColumns)
	row := make([]string, len(latencyColumns))
	var err error
	r.Requests()(func(q Request) bool {
		row[0] = strconv.Itoa(q.Client)
		row[1] = strconv.Itoa(q.Zone)
		row[2] = q.Node
		row[3] = q.Op
		row[4] = strconv.Itoa(q.Key)
		row[5] = strconv.Itoa(q.Size)
		row[6] = strconv.FormatBool(q.Found)
		row[7] = strconv.FormatInt(q.Scheduled, 10)
		row[8] = strconv.FormatInt(q.Start, 10)
		row[9] = strconv.FormatInt(q.End, 10)
		row[10] = strconv.FormatInt(int64(q.Latency), 10)
		row[11] = q.Error
		err = cw.Write(row)
		return err == nil
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// ReadLatencyCSV reads what WriteLatencyCSV writes.
func ReadLatencyCSV(r io.Reader) ([]Request, error) {
	t, err := readTable(r, KindLatency)
	if err != nil {
		return nil, err
	}
	out := make([]Request, 0, len(t.rows))
	for i, row := range t.rows {
		if len(row) != len(t.header) {
			return nil, fmt.Errorf("benchmark: latency CSV row %d: %d columns, want %d", i+2, len(row), len(t.header))
		}
		var q Request
		var ints [8]int64
		for j, name := range []string{"client", "zone", "key", "size", "scheduled_ns", "start_ns", "end_ns", "latency_ns"} {
			v, err := t.col(row)(name)
			if err != nil {
				return nil, fmt.Errorf("benchmark: latency CSV row %d: %w", i+2, err)
			}
			if ints[j], err = strconv.ParseInt(v, 10, 64); err != nil {
				return nil, fmt.Errorf("benchmark: latency CSV row %d: column %s: %w", i+2, name, err)
			}
		}
		q.Client, q.Zone, q.Key, q.Size = int(ints[0]), int(ints[1]), int(ints[2]), int(ints[3])
		q.Scheduled, q.Start, q.End, q.Latency = ints[4], ints[5], ints[6], time.Duration(ints[7])
		col := t.col(row)
		q.Node, _ = col("node")
		q.Op, _ = col("op")
		q.Error, _ = col("error")
		found, _ := col("found")
		q.Found = found == "true"
		out = append(out, q)
	}
	return out, nil
}
