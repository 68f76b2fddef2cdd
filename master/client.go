package master

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ailidani/paxi-style/paxi"
)

// Errors of the master's client.
var (
	// ErrUnreachable is returned when the master did not answer before the
	// deadline; the error also carries the last failure seen.
	ErrUnreachable = errors.New("master: unreachable")
	// ErrRejected is returned when the master answered with an error
	// status, or with something that is not a valid answer; retrying would
	// not help.
	ErrRejected = errors.New("master: request rejected")
)

// BaseURL turns a master address, host:port or http://host:port, into the
// base URL of its API.
func BaseURL(addr string) (string, error) {
	if addr == "" {
		return "", fmt.Errorf("%w: empty master address: want host:port", ErrRejected)
	}
	raw := addr
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("%w: master address %q: want host:port or http://host:port", ErrRejected, addr)
	}
	return "http://" + u.Host, nil
}

// Backoff bounds the pause between two attempts to reach the master.
const (
	backoffFirst = 100 * time.Millisecond
	backoffMax   = 2 * time.Second
)

// call makes one request to the master, retrying while the master cannot be
// reached or answers 5xx, until timeout. It returns the body of a 200
// answer; any other answer is ErrRejected at once.
func call(ctx context.Context, method, addr, path string, timeout time.Duration) ([]byte, error) {
	base, err := BaseURL(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{Timeout: 5 * time.Second}
	pause := backoffFirst
	var last error
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRejected, err)
		}
		resp, err := hc.Do(req)
		if err == nil {
			body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
			resp.Body.Close()
			switch {
			case rerr != nil:
				err = rerr
			case resp.StatusCode == http.StatusOK:
				return body, nil
			case resp.StatusCode >= 500:
				err = fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(body))
			default:
				return nil, fmt.Errorf("%w: %s %s%s: %s: %s", ErrRejected, method, base, path, resp.Status, bytes.TrimSpace(body))
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %s after %d attempts in %v: %w", ErrUnreachable, base, attempt, timeout, last)
		case <-time.After(pause):
		}
		pause = min(2*pause, backoffMax)
	}
}

// Fetch gets the cluster configuration from the master at addr (host:port
// or http://host:port), waiting up to timeout for the master to come up (a
// node and its master are often started together). The configuration is
// decoded and validated as paxi.ParseConfig does; the caller adds the
// protocol's own rules (protocols.Validate).
func Fetch(ctx context.Context, addr string, timeout time.Duration) (*paxi.Config, error) {
	body, err := call(ctx, http.MethodGet, addr, "/config", timeout)
	if err != nil {
		return nil, err
	}
	cfg, err := paxi.ParseConfig(body)
	if err != nil {
		return nil, fmt.Errorf("%w: configuration from master %s: %w", ErrRejected, addr, err)
	}
	return cfg, nil
}

// Report tells the master at addr that node id is serving, retrying for up
// to timeout, and returns what the master then knows.
func Report(ctx context.Context, addr string, id paxi.ID, timeout time.Duration) (Readiness, error) {
	body, err := call(ctx, http.MethodPost, addr, "/ready?id="+id.String(), timeout)
	if err != nil {
		return Readiness{}, err
	}
	return decodeReadiness(addr, body)
}

// Ready asks the master at addr which nodes have reported, retrying for up
// to timeout while it cannot be reached.
func Ready(ctx context.Context, addr string, timeout time.Duration) (Readiness, error) {
	body, err := call(ctx, http.MethodGet, addr, "/ready", timeout)
	if err != nil {
		return Readiness{}, err
	}
	return decodeReadiness(addr, body)
}

func decodeReadiness(addr string, body []byte) (Readiness, error) {
	var r Readiness
	if err := json.Unmarshal(body, &r); err != nil {
		return Readiness{}, fmt.Errorf("%w: readiness from master %s: %w", ErrRejected, addr, err)
	}
	return r, nil
}
