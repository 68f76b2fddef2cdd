package checker

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"
)

// registerOp is the kind of a register operation.
type registerOp uint8

const (
	regRead registerOp = iota
	regWrite
	regCAS
)

// registerInput is a read, a write of arg, or a cas from arg to to.
type registerInput struct {
	op  registerOp
	arg int
	to  int
}

// registerOutput is what a read returned (value, or nil when !exists), or
// whether a cas succeeded; unknown marks an operation whose outcome the
// client never learnt (an :info), which may or may not have taken effect.
type registerOutput struct {
	ok      bool
	exists  bool
	value   int
	unknown bool
}

// registerState is the register's value, or nil when !set.
type registerState struct {
	value int
	set   bool
}

// jepsenMeta ties an operation back to the log.
type jepsenMeta struct {
	line    int
	process int
}

func registerStep(state, input, output any) (bool, any) {
	st := state.(registerState)
	in := input.(registerInput)
	out := output.(registerOutput)
	switch in.op {
	case regRead:
		return out.unknown || (out.exists == st.set && (!st.set || out.value == st.value)), st
	case regWrite:
		return true, registerState{value: in.arg, set: true}
	default:
		matches := st.set && st.value == in.arg
		next := st
		if matches {
			next = registerState{value: in.to, set: true}
		}
		return out.unknown || out.ok == matches, next
	}
}

func registerDescribeOperation(input, output any) string {
	in := input.(registerInput)
	out := output.(registerOutput)
	switch in.op {
	case regRead:
		if !out.exists {
			return "read() -> nil"
		}
		return fmt.Sprintf("read() -> %d", out.value)
	case regWrite:
		if out.unknown {
			return fmt.Sprintf("write(%d) -> unknown", in.arg)
		}
		return fmt.Sprintf("write(%d)", in.arg)
	default:
		ret := "fail"
		switch {
		case out.unknown:
			ret = "unknown"
		case out.ok:
			ret = "ok"
		}
		return fmt.Sprintf("cas(%d, %d) -> %s", in.arg, in.to, ret)
	}
}

func registerDescribeState(state any) string {
	st := state.(registerState)
	if !st.set {
		return "nil"
	}
	return strconv.Itoa(st.value)
}

func registerDescribeMetadata(meta any) string {
	m, ok := meta.(jepsenMeta)
	if !ok {
		return ""
	}
	return fmt.Sprintf("process %d, invoked on line %d", m.process, m.line)
}

// RegisterModel returns the sequential specification of the single register
// of Jepsen's etcd test, as a porcupine model: it starts nil, a read returns
// its value, a write sets it, and cas(a, b) sets it to b and succeeds if and
// only if it holds a. It is the model of the operations ReadJepsenEtcd
// returns.
func RegisterModel() porcupine.Model {
	return porcupine.Model{
		Init:                      func() any { return registerState{} },
		Step:                      registerStep,
		DescribeOperation:         registerDescribeOperation,
		DescribeState:             registerDescribeState,
		DescribeOperationMetadata: registerDescribeMetadata,
	}
}

func registerModelStop(stop func() bool) porcupine.Model {
	m := RegisterModel()
	m.Step = func(state, input, output any) (bool, any) {
		if stop() {
			return false, state
		}
		return registerStep(state, input, output)
	}
	return m
}

// jepsenLine matches one line of a Jepsen etcd log, e.g.
// "INFO  jepsen.util - 2\t:ok\t:cas\t[1 0]" (tabs or spaces).
var jepsenLine = regexp.MustCompile(`^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(invoke|ok|fail|info)\s+:(read|write|cas)\s+(.*?)\s*$`)

// ReadJepsenEtcd parses the log of a Jepsen etcd register test (as in
// porcupine's test data) into operations for RegisterModel. The log has no
// clock, only an order, so each operation's Call and Return are the line
// numbers of its :invoke and its completion; lines are distinct, so
// porcupine's closed intervals order them exactly as the log does.
//
// Completions are read as Jepsen means them: :ok happened; :fail did not
// happen, except that a failed cas is one whose compare failed (it
// returned false, which the model checks); :info (typically a time-out)
// means the outcome is unknown, so an unknown read is dropped and an
// unknown write or cas may have happened at any time after its call
// (Return is math.MaxInt64). An operation still pending at the end of the
// log counts as :info. Each Metadata holds the line and process.
//
// Lines that are neither blank nor such an operation are an error, as is a
// completion with no matching invoke, so that a truncated or foreign file is
// not silently checked as something else.
func ReadJepsenEtcd(r io.Reader) ([]porcupine.Operation, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	type pending struct {
		in   registerInput
		call int
		proc int
	}
	open := make(map[int]pending)
	clients := make(map[int]int) // process -> dense client id, for the visualisation
	var ops []porcupine.Operation
	add := func(p pending, out registerOutput, ret int64) {
		c, ok := clients[p.proc]
		if !ok {
			c = len(clients)
			clients[p.proc] = c
		}
		ops = append(ops, porcupine.Operation{
			ClientId: c, Input: p.in, Output: out, Call: int64(p.call), Return: ret,
			Metadata: jepsenMeta{line: p.call, process: p.proc},
		})
	}
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if strings.TrimSpace(text) == "" {
			continue
		}
		m := jepsenLine.FindStringSubmatch(text)
		if m == nil {
			return nil, fmt.Errorf("checker: jepsen log line %d: not an operation: %q", line, text)
		}
		proc, err := strconv.Atoi(m[1])
		if err != nil {
			return nil, fmt.Errorf("checker: jepsen log line %d: process %q: %w", line, m[1], err)
		}
		typ, f, arg := m[2], m[3], m[4]
		bad := func(what string) error {
			return fmt.Errorf("checker: jepsen log line %d: %s: %q", line, what, text)
		}
		if typ == "invoke" {
			if _, busy := open[proc]; busy {
				return nil, bad("invoke while the process has an operation pending")
			}
			var in registerInput
			switch f {
			case "read":
				in.op = regRead
			case "write":
				in.op = regWrite
				if in.arg, err = strconv.Atoi(arg); err != nil {
					return nil, bad("write of a non-integer")
				}
			case "cas":
				in.op = regCAS
				if in.arg, in.to, err = parsePair(arg); err != nil {
					return nil, bad("cas argument " + err.Error())
				}
			}
			open[proc] = pending{in: in, call: line, proc: proc}
			continue
		}
		p, ok := open[proc]
		if !ok {
			return nil, bad("completion without an invoke")
		}
		if fn := [...]string{"read", "write", "cas"}[p.in.op]; fn != f {
			return nil, bad("completes a " + fn)
		}
		delete(open, proc)
		switch {
		case typ == "info":
			if p.in.op != regRead {
				add(p, registerOutput{unknown: true}, math.MaxInt64)
			}
		case typ == "fail" && p.in.op == regCAS:
			add(p, registerOutput{ok: false}, int64(line))
		case typ == "fail":
			// Did not happen: nothing to check.
		case p.in.op == regRead:
			out := registerOutput{}
			if arg != "nil" {
				v, err := strconv.Atoi(arg)
				if err != nil {
					return nil, bad("read of a non-integer")
				}
				out = registerOutput{exists: true, value: v}
			}
			add(p, out, int64(line))
		case p.in.op == regWrite:
			add(p, registerOutput{}, int64(line))
		default:
			add(p, registerOutput{ok: true}, int64(line))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("checker: jepsen log: %w", err)
	}
	// Operations still pending at the end are :info, in invoke order.
	var rest []pending
	for _, p := range open {
		rest = append(rest, p)
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].call < rest[j].call })
	for _, p := range rest {
		if p.in.op != regRead {
			add(p, registerOutput{unknown: true}, math.MaxInt64)
		}
	}
	return ops, nil
}

// parsePair parses a cas argument "[a b]".
func parsePair(s string) (int, int, error) {
	f := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if len(f) != 2 || !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return 0, 0, fmt.Errorf("%q: want [from to]", s)
	}
	a, err := strconv.Atoi(f[0])
	if err != nil {
		return 0, 0, fmt.Errorf("%q: %w", s, err)
	}
	b, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, fmt.Errorf("%q: %w", s, err)
	}
	return a, b, nil
}

// CheckJepsenEtcd checks operations from ReadJepsenEtcd against
// RegisterModel. The whole log is one register, hence one partition:
// Report.Keys is 1 (0 for an empty log, which is trivially Ok), there are no
// failed writes or dropped reads to count (the parser has applied those
// rules), and no anomaly search, since a cas both reads and writes. Options
// apply as for Linearizable (AllKeys is moot).
func CheckJepsenEtcd(ctx context.Context, ops []porcupine.Operation, opts Options) (Report, error) {
	rep := Report{Ops: len(ops), Verdict: Ok}
	if len(ops) == 0 {
		return rep, nil
	}
	rep.Keys = 1
	b := newBudget(ctx, opts.Timeout, opts.MaxHeap)
	defer b.close()
	parts := [][]porcupine.Operation{ops}
	rep.Verdict = checkPartitions(1, b, true, func(_ int, stop func() bool) Verdict {
		return checkOne(registerModelStop, ops, stop)
	})[0]
	if rep.Verdict == Unknown {
		rep.Stopped = b.stopped()
	}
	switch rep.Verdict {
	case Illegal:
		rep.IllegalKeys = []string{"register"}
	case Unknown:
		rep.UnknownKeys = []string{"register"}
	}
	if opts.Visualize != "" {
		vb := newBudget(ctx, opts.Timeout, opts.MaxHeap)
		defer vb.close()
		drawn, err := visualize(opts.Visualize, RegisterModel(), parts, []int{0}, opts.VisualizeMaxOps, nil, vb)
		if err != nil {
			return rep, err
		}
		if len(drawn) > 0 {
			rep.Visualized = []string{"register"}
		}
	}
	return rep, nil
}
