package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ailidani/paxi-style/store"
)

// ErrNotFound is returned by Get for a key without a value.
var ErrNotFound = errors.New("client: key not found")

// Response is what a node answered to a command.
type Response struct {
	// Value is the value read, or the previous value for a write.
	Value []byte
	// Found reports whether Value is a value of the key.
	Found bool
	// Slot is the log position that ordered the command (-1 if none).
	Slot int64
	// Version is the key's version after the command.
	Version uint64
}

// REST is a Go client of one node's REST API. It is safe for concurrent use;
// each command gets the next command id of the client's id, so retries of a
// failed command are not deduplicated unless made with DoID.
type REST struct {
	base  string
	id    string
	cid   atomic.Uint64
	http  *http.Client
	token string
}

// NewREST returns a client of the node whose REST API is at base (e.g.
// "http://127.0.0.1:8081"), identified as clientID ("" sends no ids), with
// the given per-request timeout (0: none; not recommended).
func NewREST(base, clientID string, timeout time.Duration) *REST {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 1024
	tr.MaxIdleConnsPerHost = 1024
	c := &REST{
		base: strings.TrimSuffix(base, "/"),
		id:   clientID,
		http: &http.Client{Transport: tr, Timeout: timeout},
	}
	// Command ids start from the clock, not from 1: a cluster remembers
	// recent (client id, command id) pairs to deduplicate retries, so a new
	// client reusing an id (the same benchmark run twice) must not reuse
	// command ids too, or it would be handed the old answers.
	c.cid.Store(uint64(time.Now().UnixNano()))
	return c
}

// WithToken sets the admin token sent to fault endpoints.
func (c *REST) WithToken(tok string) *REST { c.token = tok; return c }

// Base returns the node URL the client talks to.
func (c *REST) Base() string { return c.base }

// Get reads key. A key without a value returns ErrNotFound.
func (c *REST) Get(ctx context.Context, key string) (Response, error) {
	return c.Do(ctx, http.MethodGet, key, nil)
}

// Put writes value to key.
func (c *REST) Put(ctx context.Context, key string, value []byte) (Response, error) {
	return c.Do(ctx, http.MethodPut, key, value)
}

// Delete deletes key.
func (c *REST) Delete(ctx context.Context, key string) (Response, error) {
	return c.Do(ctx, http.MethodDelete, key, nil)
}

// Do sends one command with the next command id.
func (c *REST) Do(ctx context.Context, method, key string, value []byte) (Response, error) {
	return c.DoID(ctx, method, key, value, c.cid.Add(1))
}

// DoID sends one command with the given command id: retrying with the same
// id is safe, the cluster executes it once.
func (c *REST) DoID(ctx context.Context, method, key string, value []byte, cid uint64) (Response, error) {
	var body io.Reader
	if value != nil {
		body = bytes.NewReader(value)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/kv/"+url.PathEscape(key), body)
	if err != nil {
		return Response{}, fmt.Errorf("client: %w", err)
	}
	if c.id != "" {
		req.Header.Set("Id", c.id)
		req.Header.Set("Cid", strconv.FormatUint(cid, 10))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("client: %s %s: %w", method, key, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, fmt.Errorf("client: %s %s: reading answer: %w", method, key, err)
	}
	r := Response{Value: b, Found: resp.Header.Get("Nv") != "true", Slot: -1}
	if s, err := strconv.ParseInt(resp.Header.Get("Slot"), 10, 64); err == nil {
		r.Slot = s
	}
	if v, err := strconv.ParseUint(resp.Header.Get("Version"), 10, 64); err == nil {
		r.Version = v
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		if !r.Found {
			r.Value = nil
		}
		return r, nil
	case resp.StatusCode == http.StatusNotFound && resp.Header.Get("Nv") == "true":
		r.Value = nil
		return r, ErrNotFound
	default:
		return r, statusError(method, key, resp.StatusCode, b)
	}
}

// StatusError is a non-success HTTP answer.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string { return fmt.Sprintf("client: HTTP %d: %s", e.Code, e.Message) }

func statusError(method, what string, code int, body []byte) error {
	var eb errorBody
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
		msg = eb.Error
	}
	return fmt.Errorf("%s %s: %w", method, what, &StatusError{Code: code, Message: msg})
}

// getJSON fetches path and decodes its JSON answer into v.
func (c *REST) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if c.token != "" {
		req.Header.Set(TokenHeader, c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("client: GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("client: GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return statusError(http.MethodGet, path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("client: GET %s: bad JSON: %w", path, err)
	}
	return nil
}

// History returns the values of key on this node, in version order (nil
// for a delete).
func (c *REST) History(ctx context.Context, key string) ([][]byte, error) {
	var raw []*string
	if err := c.getJSON(ctx, "/history?key="+url.QueryEscape(key), &raw); err != nil {
		return nil, err
	}
	out := make([][]byte, len(raw))
	for i, s := range raw {
		if s == nil {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(*s)
		if err != nil {
			return nil, fmt.Errorf("client: history of %s: entry %d: %w", key, i, err)
		}
		out[i] = b
	}
	return out, nil
}

// HistoryDetail returns the versions of key on this node with the commands
// that wrote them.
func (c *REST) HistoryDetail(ctx context.Context, key string) ([]store.Version, error) {
	var h []HistoryEntry
	if err := c.getJSON(ctx, "/history?detail=1&key="+url.QueryEscape(key), &h); err != nil {
		return nil, err
	}
	out := make([]store.Version, len(h))
	for i, e := range h {
		out[i] = store.Version(e)
	}
	return out, nil
}

// Status returns the node's status.
func (c *REST) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.getJSON(ctx, "/status", &s)
	return s, err
}

// Admin calls a fault endpoint, e.g. Admin(ctx, "crash", url.Values{"t": {"3"}}).
func (c *REST) Admin(ctx context.Context, fault string, q url.Values) error {
	var v map[string][]string
	return c.getJSON(ctx, "/"+fault+"?"+q.Encode(), &v)
}
