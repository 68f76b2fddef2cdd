package smr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ErrNoRedis is returned when the redis-server program cannot be found.
var ErrNoRedis = errors.New("smr: redis-server not found (Debian: apt-get install redis-server redis-tools)")

// RedisOptions say how to start a redis-server.
type RedisOptions struct {
	// Path is the redis-server program; empty: "redis-server" from PATH.
	Path string
	// Port is the loopback port it listens on.
	Port int
	// Args are extra configuration arguments ("--maxmemory", "1gb", ...),
	// after the ones StartRedis sets.
	Args []string
}

// LookRedis returns the path of the redis-server program, or ErrNoRedis.
func LookRedis(path string) (string, error) {
	if path == "" {
		path = "redis-server"
	}
	p, err := exec.LookPath(path)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoRedis, err)
	}
	return p, nil
}

// RedisServer is a redis-server process started by StartRedis: empty, on
// 127.0.0.1, with persistence off, so that its state is exactly what the
// replicated inputs made it.
type RedisServer struct {
	// Addr is its host:port.
	Addr string

	cmd    *exec.Cmd
	dir    string
	out    *tailBuffer
	exited chan struct{}
	err    error // how it exited, after exited is closed
	stop   sync.Once
}

// StartRedis starts a redis-server and waits until it answers PING. It
// runs with persistence off (--save "" --appendonly no) in a temporary
// working directory of its own, with DEBUG allowed from loopback (for
// DEBUG DIGEST), and it is killed if this process dies.
func StartRedis(ctx context.Context, opts RedisOptions) (*RedisServer, error) {
	path, err := LookRedis(opts.Path)
	if err != nil {
		return nil, err
	}
	if opts.Port <= 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("smr: redis port %d out of range", opts.Port)
	}
	dir, err := os.MkdirTemp("", "paxi-redis-")
	if err != nil {
		return nil, fmt.Errorf("smr: redis working directory: %w", err)
	}
	args := []string{
		"--port", strconv.Itoa(opts.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir,
		"--daemonize", "no", "--logfile", "", "--loglevel", "warning",
		"--enable-debug-command", "local",
	}
	args = append(args, opts.Args...)
	s := &RedisServer{
		Addr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.Port)),
		dir:    dir,
		out:    &tailBuffer{max: 4096},
		exited: make(chan struct{}),
	}
	s.cmd = exec.Command(path, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = dieWithParent()
	if err := startLocked(s.cmd); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("smr: start %s: %w", path, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls the server with PING until it answers.
func (s *RedisServer) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		c, err := DialRedis(ctx, s.Addr)
		if err == nil {
			v, err := c.Do("PING")
			c.Close()
			if err == nil && v == "PONG" {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("smr: redis-server on %s exited (%v): %s", s.Addr, s.err, bytes.TrimSpace(s.out.Bytes()))
		case <-ctx.Done():
			return fmt.Errorf("smr: redis-server on %s not ready: %w (last error: %v)", s.Addr, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Pid returns the process id.
func (s *RedisServer) Pid() int { return s.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (s *RedisServer) Exited() <-chan struct{} { return s.exited }

// Stop terminates the server (SIGTERM, then SIGKILL after 5 s) and removes
// its working directory.
func (s *RedisServer) Stop() error {
	s.stop.Do(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
		os.RemoveAll(s.dir)
	})
	return nil
}

// tailBuffer keeps the last bytes a process wrote, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bytes.Clone(t.buf)
}
