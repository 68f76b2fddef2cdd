package smr

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func requestCounter() func([]byte) int {
	r := Redis.Requests()
	return func(b []byte) int { return countRequests(r, b) }
}

func replyCounter() func([]byte) int {
	r := Redis.Replies()
	return func(b []byte) int { return countReplies(r, b) }
}

// feedSplits feeds s to new counters cut at every pair of points, and
// checks every cut counts the same as the whole: the executor sees input cut
// wherever the client's reads happened to end.
func feedSplits(t *testing.T, newCounter func() func([]byte) int, s string, want int) {
	t.Helper()
	if got := newCounter()([]byte(s)); got != want {
		t.Fatalf("%q: counted %d, want %d", s, got, want)
	}
	for i := 0; i <= len(s); i++ {
		for j := i; j <= len(s); j++ {
			c := newCounter()
			got := c([]byte(s[:i])) + c([]byte(s[i:j])) + c([]byte(s[j:]))
			if got != want {
				t.Fatalf("%q cut at %d and %d: counted %d, want %d", s, i, j, got, want)
			}
		}
	}
}

func TestRequestsCountsWhatRedisExecutes(t *testing.T) {
	tests := []struct {
		name, in string
		want     int
	}{
		{"multibulk", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", 1},
		{"pipelined", strings.Repeat("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 5), 5},
		{"binary bulk with CRLF inside", "*2\r\n$4\r\nECHO\r\n$4\r\n\r\n\r\n\r\n", 1},
		{"empty bulk", "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", 1},
		{"inline", "PING\r\nPING\n", 2},
		{"inline blank lines are no command", "\r\n \t\r\n\nPING\r\n", 1},
		{"zero and negative multibulk are no command", "*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", 1},
		{"incomplete", "*2\r\n$3\r\nGET\r\n$1\r\n", 0},
		{"incomplete inline", "PIN", 0},
		{"mixed", "PING\r\n*1\r\n$4\r\nPING\r\nECHO a\r\n", 3},
		{"bad count: one error, then Redis closes", "*x\r\nPING\r\n", 1},
		{"no dollar: one error", "*1\r\n:4\r\nPING\r\n", 1},
		{"negative bulk: one error", "*1\r\n$-2\r\nPING\r\n", 1},
		{"leading zero: one error", "*01\r\n$4\r\nPING\r\n", 1},
		{"after a command, an error", "PING\r\n*1\r\n$x\r\n", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feedSplits(t, requestCounter, tt.in, tt.want)
		})
	}
}

func TestRequestsRejectOverlongLines(t *testing.T) {
	c := requestCounter()
	long := strings.Repeat("a", respInlineMax+1)
	if n := c([]byte(long)); n != 1 {
		t.Fatalf("an inline line over the limit counted %d, want 1 (the error)", n)
	}
	if n := c([]byte("\r\nPING\r\n")); n != 0 {
		t.Fatalf("counted %d after a protocol error, want 0: Redis has closed the connection", n)
	}
}

func TestRepliesCountsTopLevelReplies(t *testing.T) {
	tests := []struct {
		name, in string
		want     int
	}{
		{"simple", "+OK\r\n-ERR no\r\n:42\r\n", 3},
		{"bulk", "$5\r\nhello\r\n$-1\r\n$0\r\n\r\n", 3},
		{"bulk with CRLF and type bytes inside", "$6\r\n\r\n+:*\r\n\r\n", 1},
		{"array", "*2\r\n$1\r\na\r\n:1\r\n", 1},
		{"nested", "*2\r\n*2\r\n+a\r\n+b\r\n*0\r\n*-1\r\n", 2},
		{"resp3 scalars", "_\r\n,3.14\r\n#t\r\n(12345678901234567890\r\n!3\r\nerr\r\n=7\r\ntxt:abc\r\n", 6},
		{"resp3 map and set", "%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n:2\r\n~2\r\n+x\r\n+y\r\n", 2},
		{"push is not a reply", ">3\r\n+message\r\n+ch\r\n+hi\r\n+OK\r\n", 1},
		{"attribute decorates the next reply", "|1\r\n+key\r\n+val\r\n:7\r\n", 1},
		{"nested attribute", "*2\r\n|1\r\n+k\r\n+v\r\n:1\r\n:2\r\n", 1},
		{"incomplete", "*2\r\n+a\r\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feedSplits(t, replyCounter, tt.in, tt.want)
		})
	}
}

// Random request streams, cut at random points, count as many commands as
// they hold.
func TestRequestsRandomStreams(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		var b strings.Builder
		want := 0
		for range rng.IntN(20) {
			if rng.IntN(4) == 0 {
				b.WriteString("SET k v\r\n")
			} else {
				args := 1 + rng.IntN(4)
				b.WriteString("*" + strconv.Itoa(args) + "\r\n")
				for range args {
					v := strings.Repeat("\r\n*$", rng.IntN(5))
					b.WriteString("$" + strconv.Itoa(len(v)) + "\r\n" + v + "\r\n")
				}
			}
			want++
		}
		s := b.String()
		c := requestCounter()
		got := 0
		for len(s) > 0 {
			k := min(len(s), 1+rng.IntN(16))
			got += c([]byte(s[:k]))
			s = s[k:]
		}
		if got != want {
			t.Fatalf("%q: counted %d, want %d", b.String(), got, want)
		}
	}
}

func TestParseRESPInt(t *testing.T) {
	good := map[string]int64{"0": 0, "7": 7, "-1": -1, "512": 512}
	for s, want := range good {
		if v, ok := parseRESPInt([]byte(s)); !ok || v != want {
			t.Errorf("%q: got %d %v, want %d", s, v, ok, want)
		}
	}
	for _, s := range []string{"", "-", "+1", "01", "-0", " 1", "1 ", "1a", "99999999999999999999999"} {
		if _, ok := parseRESPInt([]byte(s)); ok {
			t.Errorf("%q accepted", s)
		}
	}
}

// Scan stops at the end of each request and classifies it: commands that
// may share a connection, whatever their case, and the rest.
func TestRequestsClassify(t *testing.T) {
	in := "*3\r\n$3\r\nsEt\r\n$1\r\nk\r\n$1\r\nv\r\n" + // Shared
		"*1\r\n$5\r\nMULTI\r\n" + // Private: connection state
		"\r\n" + // Blank
		"PING\r\n" + // Private: inline
		"*2\r\n$5\r\nBLPOP\r\n$1\r\nk\r\n" + // Private: blocks
		"*1\r\n$30\r\ngetgetgetgetgetgetgetgetgetget\r\n" + // Private: unknown
		"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" // Shared
	want := []Frame{Shared, Private, Blank, Private, Private, Private, Shared}
	for cut := 1; cut <= len(in); cut++ {
		r := Redis.Requests()
		var got []Frame
		for _, piece := range []string{in[:cut], in[cut:]} {
			b := []byte(piece)
			for len(b) > 0 {
				n, f := r.Scan(b)
				if n == 0 {
					t.Fatalf("Scan consumed nothing of %q", b)
				}
				b = b[n:]
				if f != Partial {
					got = append(got, f)
				}
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("cut at %d: frames %v, want %v", cut, got, want)
		}
	}
}
