package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/store"
)

// Backend is what the REST API needs from a node.
type Backend interface {
	// Do submits a command and waits for its reply.
	Do(ctx context.Context, cmd paxi.Command) (paxi.Reply, error)
	// History returns a key's versions in this node's store.
	History(ctx context.Context, key string) ([]store.Version, error)
	// Status describes the node.
	Status(ctx context.Context) (Status, error)
	// Faults is the node's fault injector.
	Faults() Faults
}

// Faults injects faults into a node's transport.
type Faults interface {
	Crash(d time.Duration)
	Drop(to paxi.ID, d time.Duration)
	Slow(to paxi.ID, delay, d time.Duration)
	Flaky(to paxi.ID, p float64, d time.Duration)
	Heal()
	Faults() []string
}

// Status is a node's view of itself, served at /status.
type Status struct {
	ID       paxi.ID  `json:"id"`
	Protocol string   `json:"protocol"`
	Leader   paxi.ID  `json:"leader,omitempty"`
	Ballot   string   `json:"ballot,omitempty"`
	Applied  uint64   `json:"applied"`
	Waiting  int      `json:"waiting"`
	Faults   []string `json:"faults"`
	// PID and CPUSeconds are the serving process and the CPU time (user
	// and system) it has used since it started, so that a benchmark can
	// report how many cores each node kept busy. Zero where unknown.
	PID        int     `json:"pid,omitempty"`
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
}

// TokenHeader carries the admin token to the fault endpoints.
const TokenHeader = "X-Paxi-Token"

// MaxKeyLen is the longest key the API accepts.
const MaxKeyLen = 256

// ValidKey reports whether k is a key the REST API accepts: 1 to MaxKeyLen
// characters from [A-Za-z0-9._~-] (URL-safe without escaping). It is on
// every request's path, so it is a loop rather than a regular expression.
func ValidKey(k string) bool {
	if len(k) == 0 || len(k) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '~' || c == '-') {
			return false
		}
	}
	return true
}

type server struct {
	b   Backend
	cfg *paxi.Config
	log *slog.Logger
}

// NewServer returns the REST API handler of a node.
func NewServer(b Backend, cfg *paxi.Config, log *slog.Logger) http.Handler {
	s := &server{b: b, cfg: cfg, log: log}
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		httpError(w, http.StatusNotFound, "no such endpoint: %s", req.URL.Path)
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		httpError(w, http.StatusMethodNotAllowed, "method %s not allowed on %s", req.Method, req.URL.Path)
	})
	get := []string{http.MethodGet, http.MethodHead}
	r.HandleFunc("/history", s.history).Methods(get...)
	r.HandleFunc("/status", s.status).Methods(get...)
	r.HandleFunc("/healthz", s.healthz).Methods(get...)
	admin := []string{http.MethodGet, http.MethodPost}
	r.HandleFunc("/crash", s.admin(s.crash)).Methods(admin...)
	r.HandleFunc("/drop", s.admin(s.drop)).Methods(admin...)
	r.HandleFunc("/slow", s.admin(s.slow)).Methods(admin...)
	r.HandleFunc("/flaky", s.admin(s.flaky)).Methods(admin...)
	r.HandleFunc("/heal", s.admin(s.heal)).Methods(admin...)
	kv := []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete}
	r.HandleFunc("/", s.jsonCommand).Methods(http.MethodPost)
	r.HandleFunc("/kv/{key}", s.keyValue).Methods(kv...)
	r.HandleFunc("/{key}", s.keyValue).Methods(kv...)
	return r
}

type errorBody struct {
	Error string `json:"error"`
}

func httpError(w http.ResponseWriter, code int, format string, a ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(errorBody{Error: fmt.Sprintf(format, a...)})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// readCommandIDs parses the Id and Cid headers.
func readCommandIDs(r *http.Request, c *paxi.Command) error {
	c.ClientID = r.Header.Get("Id")
	if len(c.ClientID) > 128 {
		return fmt.Errorf("header Id is %d bytes long: at most 128", len(c.ClientID))
	}
	if cid := r.Header.Get("Cid"); cid != "" {
		n, err := strconv.ParseUint(cid, 10, 64)
		if err != nil {
			return fmt.Errorf("header Cid = %q: want an unsigned integer", cid)
		}
		c.CommandID = n
	}
	if c.ClientID == "" && c.CommandID != 0 {
		return errors.New("header Cid without header Id: a command id needs a client id")
	}
	return nil
}

// readBody reads a request body up to the configured limit, answering 413
// above it.
func (s *server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, "request body over %d bytes (max_body_bytes)", s.cfg.MaxBodyBytes)
		} else {
			httpError(w, http.StatusBadRequest, "reading request body: %v", err)
		}
		return nil, false
	}
	return b, true
}

func (s *server) keyValue(w http.ResponseWriter, r *http.Request) {
	key := mux.Vars(r)["key"]
	if !ValidKey(key) {
		httpError(w, http.StatusBadRequest, "bad key %q: want 1 to %d characters from [A-Za-z0-9._~-]", key, MaxKeyLen)
		return
	}
	cmd := paxi.Command{Key: key}
	if err := readCommandIDs(r, &cmd); err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	switch r.Method {
	case http.MethodGet:
		cmd.Op = paxi.Get
	case http.MethodDelete:
		cmd.Op = paxi.Delete
	default:
		body, ok := s.readBody(w, r)
		if !ok {
			return
		}
		cmd.Op, cmd.Value = paxi.Put, body
	}
	s.execute(w, r, cmd)
}

// jsonRequest is the original Paxi's JSON command body.
type jsonRequest struct {
	Key       json.RawMessage `json:"Key"`
	Value     []byte          `json:"Value"`
	ClientID  string          `json:"ClientID"`
	CommandID uint64          `json:"CommandID"`
}

func (s *server) jsonCommand(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	var req jsonRequest
	if err := json.Unmarshal(body, &req); err != nil {
		httpError(w, http.StatusBadRequest, "bad JSON command: %v (want {\"Key\": 9, \"Value\": \"<base64>\", \"ClientID\": \"c9\", \"CommandID\": 45})", err)
		return
	}
	var key string
	var n json.Number
	if err := json.Unmarshal(req.Key, &key); err != nil {
		if err := json.Unmarshal(req.Key, &n); err != nil || n.String() == "" {
			httpError(w, http.StatusBadRequest, "bad JSON command: Key must be a number or a string")
			return
		}
		key = n.String()
	}
	if !ValidKey(key) {
		httpError(w, http.StatusBadRequest, "bad key %q: want 1 to %d characters from [A-Za-z0-9._~-]", key, MaxKeyLen)
		return
	}
	cmd := paxi.Command{Key: key, ClientID: req.ClientID, CommandID: req.CommandID, Op: paxi.Get}
	if req.Value != nil {
		cmd.Op, cmd.Value = paxi.Put, req.Value
	}
	s.execute(w, r, cmd)
}

func (s *server) execute(w http.ResponseWriter, r *http.Request, cmd paxi.Command) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(s.cfg.RequestTimeout))
	defer cancel()
	rep, err := s.b.Do(ctx, cmd)
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, "command not executed: %v", err)
		return
	}
	h := w.Header()
	if cmd.ClientID != "" {
		h.Set("Id", cmd.ClientID)
		h.Set("Cid", strconv.FormatUint(cmd.CommandID, 10))
	}
	h.Set("Slot", strconv.FormatInt(rep.Slot, 10))
	h.Set("Ballot", rep.Ballot.String())
	h.Set("Version", strconv.FormatUint(rep.Result.Version, 10))
	h.Set("Content-Type", "application/octet-stream")
	if !rep.Result.Found {
		h.Set("Nv", "true")
		if cmd.Op == paxi.Get {
			w.WriteHeader(http.StatusNotFound)
			return
		}
	}
	w.Write(rep.Result.Value)
}

// HistoryEntry is one version in /history?detail=1.
type HistoryEntry struct {
	Version   uint64 `json:"version"`
	Value     []byte `json:"value"`
	Deleted   bool   `json:"deleted,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	CommandID uint64 `json:"command_id,omitempty"`
}

func (s *server) history(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("key")
	if !ValidKey(key) {
		httpError(w, http.StatusBadRequest, "bad or missing key %q: want /history?key=K with 1 to %d characters from [A-Za-z0-9._~-]", key, MaxKeyLen)
		return
	}
	h, err := s.b.History(r.Context(), key)
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, "history: %v", err)
		return
	}
	switch r.URL.Query().Get("detail") {
	case "", "0", "false":
		values := make([]*string, len(h))
		for i, v := range h {
			if !v.Deleted {
				s := base64.StdEncoding.EncodeToString(v.Value)
				values[i] = &s
			}
		}
		writeJSON(w, values)
	default:
		out := make([]HistoryEntry, len(h))
		for i, v := range h {
			out[i] = HistoryEntry(v)
		}
		writeJSON(w, out)
	}
}

func (s *server) status(w http.ResponseWriter, r *http.Request) {
	st, err := s.b.Status(r.Context())
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, "status: %v", err)
		return
	}
	writeJSON(w, st)
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	st, err := s.b.Status(r.Context())
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, "status: %v", err)
		return
	}
	if st.Ballot != "" && st.Leader == 0 {
		httpError(w, http.StatusServiceUnavailable, "no leader known yet")
		return
	}
	writeJSON(w, st)
}
