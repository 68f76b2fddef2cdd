package smr

import (
	"bytes"
	"strings"
)

// Redis is the Dialect of Redis's protocol, RESP: requests in the
// multi-bulk form (*N, then N $len bulk strings) or inline (one line of
// words), replies in RESP2 or RESP3.
var Redis Dialect = redisDialect{}

type redisDialect struct{}

func (redisDialect) Name() string       { return "redis" }
func (redisDialect) Requests() Requests { return &respRequests{} }
func (redisDialect) Replies() Replies   { return &respReplies{} }

// Limits Redis applies while it frames requests (networking.c); input past
// them is a protocol error, after which Redis answers one error and closes
// the connection.
const (
	respInlineMax  = 64 << 10  // PROTO_INLINE_MAX_SIZE: an inline command or a header line
	respBulkMax    = 512 << 20 // proto-max-bulk-len's default
	respMultiMax   = 1<<31 - 1 // INT_MAX arguments
	respHeaderSkip = 1         // the byte after '\r' that Redis skips unread
	respNameMax    = 24        // longer than any command name
)

// respShared lists the Redis commands that may run on a connection shared
// by all clients (Frame Shared): data commands on explicit keys in the
// default database, with exactly one reply, that never block and neither
// read nor change per-connection state. Everything else (SELECT, MULTI,
// WATCH, SUBSCRIBE, HELLO, CLIENT, AUTH, blocking commands, scripts,
// administration, inline commands and unknown names) runs on the client's
// own connection.
var respShared = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(`
		ping echo dbsize exists type ttl pttl expiretime pexpiretime keys scan
		del unlink touch expire pexpire expireat pexpireat persist rename renamenx copy
		get set setnx setex psetex getset getdel getex mget mset msetnx strlen append
		incr decr incrby decrby incrbyfloat getrange setrange substr lcs
		lpush rpush lpushx rpushx lpop rpop llen lrange lindex lset lrem ltrim linsert lpos lmove rpoplpush
		sadd srem smembers sismember smismember scard spop srandmember smove
		sinter sunion sdiff sinterstore sunionstore sdiffstore sintercard
		hset hsetnx hget hmset hmget hgetall hdel hlen hexists hkeys hvals hincrby hincrbyfloat hstrlen hrandfield
		zadd zrem zscore zmscore zincrby zcard zcount zlexcount zrank zrevrank
		zrange zrangebyscore zrevrange zrevrangebyscore zrangebylex zrevrangebylex zrangestore
		zpopmin zpopmax zremrangebyrank zremrangebyscore zremrangebylex zrandmember
		zunionstore zinterstore zdiffstore
		pfadd pfcount pfmerge setbit getbit bitcount bitpos bitop bitfield
		geoadd geodist geopos geohash geosearch geosearchstore
		xadd xlen xrange xrevrange xdel xtrim`) {
		m[c] = true
	}
	return m
}()

// respRequests splits requests the way Redis's processInputBuffer frames
// them, so that it finds exactly the commands Redis will execute (and
// answer): input that Redis frames as an empty command (a blank inline
// line, "*0") is Blank, and a protocol error is one Private request, for
// the error Redis sends before it closes the connection; everything after
// it is Partial forever.
type respRequests struct {
	state  reqState
	line   []byte // the inline line or header read so far
	args   int64  // bulk strings still to come in the current command
	need   int64  // bytes of the current bulk string (and its CRLF) still to come
	header byte   // '*' or '$': which header line is being read
	first  bool   // the current bulk string is the command name
	name   []byte // the command name read so far, up to respNameMax bytes
	long   bool   // the name is longer than respNameMax
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

// Scan implements Requests.
func (r *respRequests) Scan(b []byte) (int, Frame) {
	i := 0
	for i < len(b) {
		switch r.state {
		case reqBroken:
			return len(b), Partial
		case reqStart:
			r.name, r.long = r.name[:0], false
			if b[i] == '*' {
				r.state, r.header, r.line = reqHeader, '*', r.line[:0]
				i++
			} else {
				r.state, r.line = reqInline, r.line[:0]
			}
		case reqInline:
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				r.line = append(r.line, b[i:]...)
				if len(r.line) > respInlineMax {
					return len(b), r.fail()
				}
				return len(b), Partial
			}
			r.line = append(r.line, b[i:i+j]...)
			i += j + 1
			r.state = reqStart
			if len(bytes.TrimLeft(r.line, " \t\r\n\v\f")) == 0 {
				return i, Blank // an inline line with no words is not a command
			}
			return i, Private
		case reqHeader:
			j := bytes.IndexByte(b[i:], '\r')
			if j < 0 {
				r.line = append(r.line, b[i:]...)
				if len(r.line) > respInlineMax {
					return len(b), r.fail()
				}
				return len(b), Partial
			}
			r.line = append(r.line, b[i:i+j]...)
			i += j + 1
			r.state = reqSkip
		case reqSkip:
			i += respHeaderSkip
			if r.header == '*' {
				v, ok := parseRESPInt(r.line)
				switch {
				case !ok || v > respMultiMax:
					return i, r.fail()
				case v <= 0:
					r.state = reqStart
					return i, Blank // "*0" and "*-1" are no command
				}
				r.args, r.state, r.line = v, reqHeader, r.line[:0]
				r.header, r.first = '$', true
				continue
			}
			if len(r.line) == 0 || r.line[0] != '$' {
				return i, r.fail() // Redis: "expected '$'"
			}
			v, ok := parseRESPInt(r.line[1:])
			if !ok || v < 0 || v > respBulkMax {
				return i, r.fail()
			}
			r.need, r.state = v+2, reqBulk
		case reqBulk:
			k := min(r.need, int64(len(b)-i))
			if r.first {
				data := min(k, max(r.need-2, 0)) // the name, not its CRLF
				if len(r.name)+int(data) > respNameMax {
					r.long = true
				} else {
					r.name = append(r.name, b[i:i+int(data)]...)
				}
			}
			r.need -= k
			i += int(k)
			if r.need > 0 {
				return i, Partial
			}
			r.args--
			r.first = false
			if r.args == 0 {
				r.state = reqStart
				return i, r.classify()
			}
			r.state, r.header, r.line = reqHeader, '$', r.line[:0]
		}
	}
	return i, Partial
}

// classify says where the command just read may run.
func (r *respRequests) classify() Frame {
	if r.long {
		return Private
	}
	var lower [respNameMax]byte
	for i, c := range r.name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	if respShared[string(lower[:len(r.name)])] {
		return Shared
	}
	return Private
}

// fail enters the broken state: Redis answers one error and closes.
func (r *respRequests) fail() Frame {
	r.state, r.line = reqBroken, nil
	return Private
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

// Scan implements Replies.
func (r *respReplies) Scan(b []byte) (int, bool) {
	i := 0
	for i < len(b) {
		switch r.state {
		case repBad:
			return len(b), false
		case repType:
			r.line = append(r.line[:0], b[i])
			i++
			r.state = repLine
		case repLine:
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				r.line = append(r.line, b[i:]...)
				return len(b), false
			}
			r.line = append(r.line, b[i:i+j]...)
			i += j + 1
			if r.element() {
				return i, true
			}
		case repBlob:
			k := min(r.need, int64(len(b)-i))
			r.need -= k
			i += int(k)
			if r.need == 0 {
				r.state = repType
				if r.done('$') {
					return i, true
				}
			}
		}
	}
	return i, false
}

// element interprets a complete type line and reports whether it
// completed a reply.
func (r *respReplies) element() bool {
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
			return false
		case v == -1:
			return r.done(kind) // null bulk string
		}
		r.need, r.state = v+2, repBlob
		return false
	case '*', '~', '>', '%', '|':
		v, ok := parseRESPInt(line[1:])
		if !ok || v < -1 {
			r.state = repBad
			return false
		}
		if kind == '%' || kind == '|' {
			v *= 2 // maps and attributes hold key-value pairs
		}
		if v <= 0 {
			return r.done(kind) // empty or null aggregate
		}
		r.stack = append(r.stack, respFrame{left: v, kind: kind})
		return false
	}
	r.state = repBad
	return false
}

// done records that an element of the given kind ended, closing every
// aggregate it completes, and reports whether that completed a reply.
func (r *respReplies) done(kind byte) bool {
	for {
		if len(r.stack) == 0 {
			return kind != '>' && kind != '|'
		}
		if kind == '|' {
			return false // an attribute is not an element of its parent
		}
		top := &r.stack[len(r.stack)-1]
		top.left--
		if top.left > 0 {
			return false
		}
		kind = top.kind
		r.stack = r.stack[:len(r.stack)-1]
	}
}
