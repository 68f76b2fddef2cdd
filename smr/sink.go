package smr

import (
	"net"
	"sync"
	"time"
)

// sinkMax bounds the bytes a sink holds for a client that does not read
// them (Redis's own client-output-buffer-limit plays this role for direct
// clients); a client that falls that far behind is disconnected.
const sinkMax = 64 << 20

// sink forwards the local server's replies to a client connected to this
// replica. Writes never block: the executor's reply readers must keep up
// with the server whatever the clients do, or one slow client would stall
// the ordering of every connection. A writer goroutine drains the buffer.
type sink struct {
	conn     net.Conn
	wake     chan struct{} // capacity 1: something to write, or closed
	finished chan struct{} // closed when the writer has closed conn

	mu     sync.Mutex
	buf    []byte
	closed bool // no more writes; the writer flushes and closes conn
}

func newSink(conn net.Conn) *sink {
	s := &sink{conn: conn, wake: make(chan struct{}, 1), finished: make(chan struct{})}
	go s.run()
	return s
}

// write queues b (copied) for the client.
func (s *sink) write(b []byte) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if len(s.buf)+len(b) > sinkMax {
		s.closed, s.buf = true, nil
		s.mu.Unlock()
		s.conn.Close() // too far behind: drop the client
		return
	}
	s.buf = append(s.buf, b...)
	s.mu.Unlock()
	s.signal()
}

// close makes the writer flush what is queued and close the client
// connection: the server closed its side.
func (s *sink) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.signal()
}

func (s *sink) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *sink) run() {
	defer close(s.finished)
	var spare []byte
	for range s.wake {
		for {
			s.mu.Lock()
			out, closed := s.buf, s.closed
			if len(out) > 0 {
				s.buf = spare[:0] // written out already: writes may reuse it
			}
			s.mu.Unlock()
			if len(out) == 0 {
				if closed {
					s.conn.Close()
					return
				}
				break
			}
			s.conn.SetWriteDeadline(time.Now().Add(time.Minute))
			if _, err := s.conn.Write(out); err != nil {
				s.mu.Lock()
				s.closed, s.buf = true, nil
				s.mu.Unlock()
				s.conn.Close()
				return
			}
			spare = out
		}
	}
}

// sinks are the clients connected to this replica, by stream name.
type sinks struct {
	mu sync.Mutex
	m  map[string]*sink
}

func (ss *sinks) add(stream string, s *sink) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = make(map[string]*sink)
	}
	ss.m[stream] = s
}

func (ss *sinks) get(stream string) *sink {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.m[stream]
}

func (ss *sinks) remove(stream string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, stream)
}
