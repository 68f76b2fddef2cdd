// Package plot draws benchmark results with gonum/plot, as PNG, SVG or PDF
// by the output file's extension: latency against throughput from sweep
// files (one line per protocol or configuration), latency CDFs from latency
// files, and per-zone latency bars from stats files. Files reads the CSV
// files package benchmark writes and picks the plot from their header, which
// is what "paxi plot results/*.csv -o fig.png" runs.
package plot
