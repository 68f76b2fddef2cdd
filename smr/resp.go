package smr

import "bytes"

// Redis is the Dialect of Redis's protocol, RESP: requests in the
// multi-bulk form (*N, then N $len bulk strings) or inline (one line of
// words), replies in RESP2 or RESP3.
var Redis Dialect = redisDialect{}

type redisDialect struct{}

func (redisDialect) Name() string      { return "redis" }
func (redisDialect) Requests() Counter { return &respRequests{} }
func (redisDialect) Replies() Counter  { return &respReplies{} }

// Limits Redis applies while it frames requests (networking.c); input past
// them is a protocol error, after which Redis answers one error and closes
// the connection.
const (
	respInlineMax  = 64 << 10  // PROTO_INLINE_MAX_SIZE: an inline command or a header line
	respBulkMax    = 512 << 20 // proto-max-bulk-len's default
	respMultiMax   = 1<<31 - 1 // INT_MAX arguments
	respHeaderSkip = 1         // the byte after '\r' that Redis skips unread
)

// respRequests counts requests the way Redis's processInputBuffer frames
// them, so that it counts exactly the commands Redis will execute (and
// answer): an input that Redis frames as an empty command (a blank inline
// line, "*0") counts nothing, and a protocol error counts once, for the
// error Redis sends before it closes the connection.
type respRequests struct {
	state  reqState
	line   []byte // the inline line or header read so far
	args   int64  // bulk strings still to come in the current command
	need   int64  // bytes of the current bulk string (and its CRLF) still to come
	header byte   // '*' or '$': which header line is being read
}

type reqState uint8

const (
	reqStart  reqState = iota // between commands
	reqInline                 // in an inline command, up to '\n'
	reqHeader                 // in a "*N" or "$len" line, up to '\r'
	reqSkip                   // the byte after a header's '\r'
	reqBulk                   // in a bulk string's bytes
	reqBroken                 // after a protocol error: Redis has closed the connection
)

// Feed implements Counter.
func (r *respRequests) Feed(b []byte) int {
	n := 0
	for len(b) > 0 {
		switch r.state {
		case reqBroken:
			return n
		case reqStart:
			if b[0] == '*' {
				r.state, r.header, r.line = reqHeader, '*', r.line[:0]
				b = b[1:]
			} else {
				r.state, r.line = reqInline, r.line[:0]
			}
		case reqInline:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				r.line = append(r.line, b...)
				if len(r.line) > respInlineMax {
					return n + r.fail()
				}
				return n
			}
			r.line = append(r.line, b[:i]...)
			b = b[i+1:]
			r.state = reqStart
			if len(bytes.TrimLeft(r.line, " \t\r\n\v\f")) > 0 {
				n++ // an inline line with no words is not a command
			}
		case reqHeader:
			i := bytes.IndexByte(b, '\r')
			if i < 0 {
				r.line = append(r.line, b...)
				if len(r.line) > respInlineMax {
					return n + r.fail()
				}
				return n
			}
			r.line = append(r.line, b[:i]...)
			b = b[i+1:]
			r.state = reqSkip
		case reqSkip:
			b = b[respHeaderSkip:]
			if r.header == '*' {
				v, ok := parseRESPInt(r.line)
				switch {
				case !ok || v > respMultiMax:
					return n + r.fail()
				case v <= 0:
					r.state = reqStart // "*0" and "*-1" are no command
				default:
					r.args, r.state, r.line = v, reqHeader, r.line[:0]
					r.header = '$'
				}
				continue
			}
			if len(r.line) == 0 || r.line[0] != '$' {
				return n + r.fail() // Redis: "expected '$'"
			}
			v, ok := parseRESPInt(r.line[1:])
			if !ok || v < 0 || v > respBulkMax {
				return n + r.fail()
			}
			r.need, r.state = v+2, reqBulk
		case reqBulk:
			k := min(r.need, int64(len(b)))
			r.need -= k
			b = b[k:]
			if r.need > 0 {
				return n
			}
			r.args--
			if r.args == 0 {
				r.state = reqStart
				n++
			} else {
				r.state, r.header, r.line = reqHeader, '$', r.line[:0]
			}
		}
	}
	return n
}

// fail enters the broken state and counts the error reply Redis sends.
func (r *respRequests) fail() int {
	r.state, r.line = reqBroken, nil
	return 1
}

// parseRESPInt parses a decimal integer as Redis's string2ll does: an
// optional '-', no '+', no spaces, no leading zeros.
func parseRESPInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || (b[0] == '0' && (len(b) > 1 || neg)) {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (1<<62)/5 {
			return 0, false // would overflow; far beyond any limit anyway
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// respReplies counts top-level replies in RESP2 and RESP3. A RESP3 push
// (">"; pub/sub messages, client tracking invalidations) is not the answer to
// a request and is not counted, nor is an attribute ("|"), which only
// decorates the reply that follows it.
type respReplies struct {
	stack []respFrame // the aggregates being read, innermost last
	state repState
	line  []byte // the type line read so far
	need  int64  // bytes of the current blob (and its CRLF) still to come
}

// respFrame is an aggregate being read: how many elements are still to come
// and what kind it is.
type respFrame struct {
	left int64
	kind byte
}

type repState uint8

const (
	repType repState = iota // at the type byte of an element
	repLine                 // in the rest of a type line, up to '\n'
	repBlob                 // in a blob's bytes
	repBad                  // unparseable output: counting stops
)

// Feed implements Counter.
func (r *respReplies) Feed(b []byte) int {
	n := 0
	for len(b) > 0 {
		switch r.state {
		case repBad:
			return n
		case repType:
			r.line = append(r.line[:0], b[0])
			b = b[1:]
			r.state = repLine
		case repLine:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				r.line = append(r.line, b...)
				return n
			}
			r.line = append(r.line, b[:i]...)
			b = b[i+1:]
			n += r.element()
		case repBlob:
			k := min(r.need, int64(len(b)))
			r.need -= k
			b = b[k:]
			if r.need == 0 {
				r.state = repType
				n += r.done('$')
			}
		}
	}
	return n
}

// element interprets a complete type line and returns the replies it
// completed.
func (r *respReplies) element() int {
	line := bytes.TrimSuffix(r.line, []byte{'\r'})
	kind := line[0]
	r.state = repType
	switch kind {
	case '+', '-', ':', '_', ',', '#', '(':
		return r.done(kind)
	case '$', '!', '=':
		v, ok := parseRESPInt(line[1:])
		switch {
		case !ok || v < -1:
			r.state = repBad
			return 0
		case v == -1:
			return r.done(kind) // null bulk string
		}
		r.need, r.state = v+2, repBlob
		return 0
	case '*', '~', '>', '%', '|':
		v, ok := parseRESPInt(line[1:])
		if !ok || v < -1 {
			r.state = repBad
			return 0
		}
		if kind == '%' || kind == '|' {
			v *= 2 // maps and attributes hold key-value pairs
		}
		if v <= 0 {
			return r.done(kind) // empty or null aggregate
		}
		r.stack = append(r.stack, respFrame{left: v, kind: kind})
		return 0
	}
	r.state = repBad
	return 0
}

// done records that an element of the given kind ended, closing every
// aggregate it completes, and returns 1 if that completed a reply.
func (r *respReplies) done(kind byte) int {
	for {
		if len(r.stack) == 0 {
			if kind == '>' || kind == '|' {
				return 0
			}
			return 1
		}
		if kind == '|' {
			return 0 // an attribute is not an element of its parent
		}
		top := &r.stack[len(r.stack)-1]
		top.left--
		if top.left > 0 {
			return 0
		}
		kind = top.kind
		r.stack = r.stack[:len(r.stack)-1]
	}
}
