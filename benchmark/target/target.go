package target

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ailidani/paxi-style/benchmark"
	"github.com/ailidani/paxi-style/client"
)

// Names of the targets, as the -target flag takes them.
const (
	Paxi         = "paxi"
	PaxiOriginal = "paxi-original"
	Etcd         = "etcd"
)

// Kinds lists the targets New accepts.
var Kinds = []string{Paxi, PaxiOriginal, Etcd}

// New returns a DB of the given kind for the node whose HTTP API is at base
// (e.g. "http://127.0.0.1:8081"). clientID identifies the client to
// services that deduplicate retries (both Paxis); timeout bounds each
// request (0: none, which lets a stuck cluster hang the benchmark).
func New(kind, base, clientID string, timeout time.Duration) (benchmark.DB, error) {
	switch kind {
	case Paxi:
		return NewPaxi(base, clientID, timeout), nil
	case PaxiOriginal:
		return NewPaxiOriginal(base, clientID, timeout), nil
	case Etcd:
		return NewEtcd(base, timeout), nil
	}
	return nil, fmt.Errorf("target %q: must be one of %q", kind, Kinds)
}

// newHTTPClient returns a client whose connection pool fits a benchmark:
// many concurrent requests to one host, all kept alive.
func newHTTPClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 4096
	tr.MaxIdleConnsPerHost = 4096
	return &http.Client{Transport: tr, Timeout: timeout}
}

// PaxiDB drives a paxi-style node through the client package.
type PaxiDB struct{ c *client.REST }

// NewPaxi returns a DB for the paxi-style node at base.
func NewPaxi(base, clientID string, timeout time.Duration) *PaxiDB {
	return &PaxiDB{client.NewREST(base, clientID, timeout)}
}

// Read gets key; client.ErrNotFound is a read of nothing, not a failure.
func (d *PaxiDB) Read(ctx context.Context, key int) ([]byte, bool, error) {
	r, err := d.c.Get(ctx, strconv.Itoa(key))
	if errors.Is(err, client.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return r.Value, r.Found, nil
}

// Write puts value to key.
func (d *PaxiDB) Write(ctx context.Context, key int, value []byte) error {
	_, err := d.c.Put(ctx, strconv.Itoa(key), value)
	return err
}

// PaxiOriginalDB drives a node of the original Paxi through its REST API.
// Paxi answers a missing key with 200 and an empty body, so an empty value
// reads as not found (the benchmark never writes empty values).
type PaxiOriginalDB struct {
	base string
	id   string
	cid  atomic.Int64
	http *http.Client
}

// NewPaxiOriginal returns a DB for the original Paxi node at base.
func NewPaxiOriginal(base, clientID string, timeout time.Duration) *PaxiOriginalDB {
	d := &PaxiOriginalDB{base: strings.TrimSuffix(base, "/"), id: clientID, http: newHTTPClient(timeout)}
	// Command ids from the clock, so that a second run with the same
	// client id is not mistaken for retries of the first.
	d.cid.Store(time.Now().UnixNano() / 1000)
	return d
}

// Read sends GET /{key}.
func (d *PaxiOriginalDB) Read(ctx context.Context, key int) ([]byte, bool, error) {
	b, err := d.do(ctx, http.MethodGet, key, nil)
	if err != nil {
		return nil, false, err
	}
	return b, len(b) > 0, nil
}

// Write sends PUT /{key} with the value as the body.
func (d *PaxiOriginalDB) Write(ctx context.Context, key int, value []byte) error {
	_, err := d.do(ctx, http.MethodPut, key, value)
	return err
}

func (d *PaxiOriginalDB) do(ctx context.Context, method string, key int, value []byte) ([]byte, error) {
	var body io.Reader
	if value != nil {
		body = bytes.NewReader(value)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.base+"/"+strconv.Itoa(key), body)
	if err != nil {
		return nil, fmt.Errorf("paxi-original: %w", err)
	}
	if d.id != "" {
		req.Header.Set("Id", d.id)
	}
	req.Header.Set("Cid", strconv.FormatInt(d.cid.Add(1), 10))
	resp, err := d.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("paxi-original: %s %d: %w", method, key, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("paxi-original: %s %d: reading answer: %w", method, key, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("paxi-original: %s %d: HTTP %d: %s", method, key, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// EtcdDB drives an etcd member through its v3 JSON gateway (grpc-gateway).
// Keys are the decimal key numbers; reads are etcd's default linearizable
// range requests.
type EtcdDB struct {
	base string
	http *http.Client
}

// NewEtcd returns a DB for the etcd member whose client URL is base (e.g.
// "http://127.0.0.1:2379").
func NewEtcd(base string, timeout time.Duration) *EtcdDB {
	return &EtcdDB{base: strings.TrimSuffix(base, "/"), http: newHTTPClient(timeout)}
}

// etcdKV is one entry of a range answer.
type etcdKV struct {
	Key   []byte `json:"key"` // base64 in JSON, as []byte is
	Value []byte `json:"value"`
	// The revisions are int64, which the gateway writes as strings.
	CreateRevision jsonInt64 `json:"create_revision"`
	ModRevision    jsonInt64 `json:"mod_revision"`
	Version        jsonInt64 `json:"version"`
}

// etcdAnswer is an answer of /v3/kv/put or /v3/kv/range, or a gateway
// error (which has error, code and message instead).
type etcdAnswer struct {
	Header *struct {
		Revision jsonInt64 `json:"revision"`
	} `json:"header"`
	Kvs     []etcdKV  `json:"kvs"`
	Count   jsonInt64 `json:"count"`
	Error   string    `json:"error"`
	Message string    `json:"message"`
	Code    int       `json:"code"`
}

// Read sends POST /v3/kv/range {"key": key}; an answer without kvs is a
// missing key.
func (d *EtcdDB) Read(ctx context.Context, key int) ([]byte, bool, error) {
	k := []byte(strconv.Itoa(key))
	a, err := d.call(ctx, "/v3/kv/range", map[string][]byte{"key": k})
	if err != nil {
		return nil, false, err
	}
	if len(a.Kvs) == 0 {
		if a.Count != 0 {
			return nil, false, fmt.Errorf("etcd: range %d: count %d but no kvs", key, a.Count)
		}
		return nil, false, nil
	}
	kv := a.Kvs[0]
	if !bytes.Equal(kv.Key, k) {
		return nil, false, fmt.Errorf("etcd: range %d: answered key %q", key, kv.Key)
	}
	return kv.Value, true, nil
}

// Write sends POST /v3/kv/put {"key": key, "value": value}.
func (d *EtcdDB) Write(ctx context.Context, key int, value []byte) error {
	_, err := d.call(ctx, "/v3/kv/put", map[string][]byte{"key": []byte(strconv.Itoa(key)), "value": value})
	return err
}

func (d *EtcdDB) call(ctx context.Context, path string, body map[string][]byte) (*etcdAnswer, error) {
	// []byte fields marshal as base64, which is what the gateway wants.
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+path, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("etcd: %s: %w", path, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("etcd: %s: reading answer: %w", path, err)
	}
	var a etcdAnswer
	jerr := json.Unmarshal(rb, &a)
	switch {
	case resp.StatusCode != http.StatusOK:
		msg := strings.TrimSpace(string(rb))
		if jerr == nil && (a.Message != "" || a.Error != "") {
			msg = a.Message
			if msg == "" {
				msg = a.Error
			}
			msg = fmt.Sprintf("%s (code %d)", msg, a.Code)
		}
		return nil, fmt.Errorf("etcd: %s: HTTP %d: %s", path, resp.StatusCode, msg)
	case jerr != nil:
		return nil, fmt.Errorf("etcd: %s: bad JSON answer: %w", path, jerr)
	case a.Error != "" || a.Message != "":
		return nil, fmt.Errorf("etcd: %s: %s%s (code %d)", path, a.Error, a.Message, a.Code)
	case a.Header == nil:
		return nil, fmt.Errorf("etcd: %s: answer has no header: %.200s", path, rb)
	}
	return &a, nil
}

// jsonInt64 reads an int64 written as a JSON string ("42"), as the gateway
// writes int64 fields, or as a plain number.
type jsonInt64 int64

// UnmarshalJSON reads "42" or 42.
func (n *jsonInt64) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("int64 %s: %w", b, err)
	}
	*n = jsonInt64(v)
	return nil
}
