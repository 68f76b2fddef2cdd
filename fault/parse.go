package fault

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ailidani/paxi-style/paxi"
)

// Load reads a schedule file, text or JSON (a file whose first non-space
// character is '[').
func Load(path string) (Schedule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fault: %w", err)
	}
	s, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("fault: %s: %w", path, err)
	}
	return s, nil
}

// Parse reads a schedule in the text or the JSON form. Errors name the line
// (or array element) and what is wrong.
func Parse(b []byte) (Schedule, error) {
	var s Schedule
	var err error
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		s, err = parseJSON(t)
	} else {
		s, err = parseText(b)
	}
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(s, func(a, b Action) int { return int(a.At - b.At) })
	return s, nil
}

func parseText(b []byte) (Schedule, error) {
	var s Schedule
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		words := strings.Fields(text)
		if len(words) == 0 {
			continue
		}
		a, err := parseLine(words)
		if err != nil {
			return nil, fmt.Errorf("line %d: %q: %w", line, strings.TrimSpace(text), err)
		}
		s = append(s, a)
	}
	return s, sc.Err()
}

// words is a cursor over the words of one line.
type words []string

func (w *words) next() string {
	if len(*w) == 0 {
		return ""
	}
	v := (*w)[0]
	*w = (*w)[1:]
	return v
}

func (w words) peek() string {
	if len(w) == 0 {
		return ""
	}
	return w[0]
}

func parseLine(ws words) (Action, error) {
	var a Action
	if ws.next() != "at" {
		return a, errors.New(`want "at <time> <action> ...", e.g. "at 10s crash leader"`)
	}
	at, err := parseDuration(ws.next())
	if err != nil {
		return a, err
	}
	a.At = at
	a.Kind = ws.next()
	// "for D" may end any action but heal.
	if n := len(ws); n >= 2 && ws[n-2] == "for" {
		if a.For, err = parseDuration(ws[n-1]); err != nil {
			return a, err
		}
		ws = ws[:n-2]
	}
	switch a.Kind {
	case Heal:
		if len(ws) > 0 {
			return a, fmt.Errorf("heal takes no arguments, got %q", []string(ws))
		}
	case Crash, Restart, Isolate:
		if len(ws) == 0 {
			return a, fmt.Errorf("%s needs a node: an ID such as 1.2, leader or follower", a.Kind)
		}
		for len(ws) > 0 {
			n, err := parseNode(ws.next())
			if err != nil {
				return a, err
			}
			a.Nodes = append(a.Nodes, n)
		}
	case Partition:
		g := Group{}
		for len(ws) > 0 {
			w := ws.next()
			switch {
			case w == "|":
				if g.Zone == 0 && len(g.Nodes) == 0 {
					return a, errors.New("empty group before |")
				}
				a.Groups, g = append(a.Groups, g), Group{}
			case w == "zone":
				z, err := strconv.Atoi(ws.next())
				if err != nil || z < 1 || len(g.Nodes) > 0 || g.Zone != 0 {
					return a, errors.New(`want "zone N" (N >= 1) as a whole group`)
				}
				g.Zone = z
			default:
				n, err := parseNode(w)
				if err != nil {
					return a, err
				}
				if g.Zone != 0 {
					return a, errors.New("a group is either a zone or a list of nodes")
				}
				g.Nodes = append(g.Nodes, n)
			}
		}
		if g.Zone == 0 && len(g.Nodes) == 0 {
			return a, errors.New("partition needs groups: \"zone 2\", or nodes separated by |")
		}
		a.Groups = append(a.Groups, g)
	case Drop, Slow, Flaky:
		from, err := parseNode(ws.next())
		if err != nil {
			return a, err
		}
		if ws.next() != "->" {
			return a, fmt.Errorf(`want "%s FROM -> TO ..."`, a.Kind)
		}
		to, err := parseNode(ws.next())
		if err != nil {
			return a, err
		}
		a.From, a.To = from, to
		switch a.Kind {
		case Slow:
			if a.Delay, err = parseDuration(ws.next()); err != nil {
				return a, fmt.Errorf("slow needs a delay: %w", err)
			}
		case Flaky:
			if a.P, err = parseProbability(ws.next()); err != nil {
				return a, err
			}
		}
		if len(ws) > 0 {
			return a, fmt.Errorf("unexpected %q", []string(ws))
		}
	case "":
		return a, errors.New("missing action after the time")
	default:
		return a, fmt.Errorf("unknown action %q: want crash, restart, partition, isolate, drop, slow, flaky or heal", a.Kind)
	}
	return a, nil
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q: want e.g. 10s or 250ms", s)
	}
	return d, nil
}

func parseProbability(s string) (float64, error) {
	p, err := strconv.ParseFloat(s, 64)
	if err != nil || p < 0 || p > 1 {
		return 0, fmt.Errorf("bad probability %q: want a number in [0,1]", s)
	}
	return p, nil
}

func parseNode(s string) (Node, error) {
	switch s {
	case "leader", "follower":
		return Node{Role: s}, nil
	case "":
		return Node{}, errors.New("missing node")
	}
	id, err := paxi.ParseID(s)
	if err != nil {
		return Node{}, fmt.Errorf("bad node %q: want an ID such as 1.2, leader or follower", s)
	}
	return Node{ID: id}, nil
}

// jsonAction is the JSON form of an Action.
type jsonAction struct {
	At     string     `json:"at"`
	Action string     `json:"action"`
	Nodes  []string   `json:"nodes,omitempty"`
	Groups [][]string `json:"groups,omitempty"`
	Zones  []int      `json:"zones,omitempty"`
	From   string     `json:"from,omitempty"`
	To     string     `json:"to,omitempty"`
	For    string     `json:"for,omitempty"`
	Delay  string     `json:"delay,omitempty"`
	P      *float64   `json:"p,omitempty"`
}

func parseJSON(b []byte) (Schedule, error) {
	var raw []jsonAction
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	var s Schedule
	for i, j := range raw {
		// Build the text form and parse it: one grammar, one set of checks.
		line := []string{"at", j.At, j.Action}
		line = append(line, j.Nodes...)
		for k, z := range j.Zones {
			if k > 0 {
				line = append(line, "|")
			}
			line = append(line, "zone", strconv.Itoa(z))
		}
		for k, g := range j.Groups {
			if k > 0 || len(j.Zones) > 0 {
				line = append(line, "|")
			}
			line = append(line, g...)
		}
		if j.From != "" || j.To != "" {
			line = append(line, j.From, "->", j.To)
		}
		if j.Delay != "" {
			line = append(line, j.Delay)
		}
		if j.P != nil {
			line = append(line, strconv.FormatFloat(*j.P, 'g', -1, 64))
		}
		if j.For != "" {
			line = append(line, "for", j.For)
		}
		a, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		s = append(s, a)
	}
	return s, nil
}

// ReadAll is Parse for a reader.
func ReadAll(r io.Reader) (Schedule, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}
