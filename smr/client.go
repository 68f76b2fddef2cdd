package smr

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// RedisConn is a minimal Redis client: one connection, one command at a
// time. It is what the tool and the tests need to check replicas (PING,
// DEBUG DIGEST, DBSIZE, GET); use a real client library for anything else.
type RedisConn struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	// Timeout bounds each Do (0: none).
	Timeout time.Duration
}

// RedisError is an error reply from the server.
type RedisError string

func (e RedisError) Error() string { return "redis: " + string(e) }

// DialRedis connects to a Redis server (or a proxy in front of one).
func DialRedis(ctx context.Context, addr string) (*RedisConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &RedisConn{conn: c, r: bufio.NewReader(c), w: bufio.NewWriter(c), Timeout: 10 * time.Second}, nil
}

// Close closes the connection.
func (c *RedisConn) Close() error { return c.conn.Close() }

// Do sends a command and returns its reply: a string for simple and bulk
// strings, int64 for integers, nil for a null, []any for an array, and a
// RedisError for an error reply. Any other error means the connection is
// unusable.
func (c *RedisConn) Do(args ...string) (any, error) {
	if c.Timeout > 0 {
		c.conn.SetDeadline(time.Now().Add(c.Timeout))
	}
	c.w.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		c.w.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	v, err := readReply(c.r, 0)
	if err != nil {
		return nil, err
	}
	if e, ok := v.(RedisError); ok {
		return nil, e
	}
	return v, nil
}

// maxReplyDepth bounds nested arrays in a reply.
const maxReplyDepth = 32

func readReply(r *bufio.Reader, depth int) (any, error) {
	if depth > maxReplyDepth {
		return nil, errors.New("redis: reply nested too deep")
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("redis: malformed reply line %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+':
		return body, nil
	case '-':
		return RedisError(body), nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redis: bad integer reply %q", line)
		}
		return n, nil
	case '_':
		return nil, nil
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 || n > respBulkMax {
			return nil, fmt.Errorf("redis: bad bulk length %q", line)
		}
		if n == -1 {
			return nil, nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		return string(b[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 || n > 1<<20 {
			return nil, fmt.Errorf("redis: bad array length %q", line)
		}
		if n == -1 {
			return nil, nil
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = readReply(r, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("redis: unsupported reply type %q", line)
}

// Digest returns the DEBUG DIGEST of the Redis server at addr: a hash of
// its whole data set, equal on two servers exactly when they hold the same
// data.
func Digest(ctx context.Context, addr string) (string, error) {
	c, err := DialRedis(ctx, addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	v, err := c.Do("DEBUG", "DIGEST")
	if err != nil {
		return "", fmt.Errorf("DEBUG DIGEST at %s: %w", addr, err)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("DEBUG DIGEST at %s: unexpected reply %v", addr, v)
	}
	return s, nil
}
