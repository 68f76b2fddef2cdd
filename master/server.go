package master

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ailidani/paxi-style/paxi"
)

// Readiness is what the master knows about which nodes are serving, as
// served at GET /ready.
type Readiness struct {
	// Nodes are the configuration's nodes, sorted.
	Nodes []paxi.ID `json:"nodes"`
	// Ready are the nodes that reported since the master started, sorted.
	Ready []paxi.ID `json:"ready"`
	// All is set when every node has reported.
	All bool `json:"all"`
}

// Server serves one cluster configuration and collects readiness reports.
// It is an http.Handler.
type Server struct {
	cfg  *paxi.Config
	body []byte // cfg as JSON, encoded once: every node gets the same bytes
	log  *slog.Logger
	mux  *http.ServeMux

	mu    sync.Mutex
	ready map[paxi.ID]time.Time
}

// NewServer returns a master serving cfg, which the caller has validated
// (protocol rules included: protocols.Validate). The master keeps its own
// copy. log receives a line per readiness report; nil discards them.
func NewServer(cfg *paxi.Config, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := cfg.Clone()
	body, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("master: encode config: %w", err)
	}
	s := &Server{cfg: c, body: body, log: log, mux: http.NewServeMux(), ready: map[paxi.ID]time.Time{}}
	s.mux.HandleFunc("GET /config", s.config)
	s.mux.HandleFunc("POST /ready", s.report)
	s.mux.HandleFunc("GET /ready", s.readiness)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{fmt.Sprintf("no such endpoint: %s %s (the master serves GET /config, POST /ready?id=ID, GET /ready, GET /healthz)", r.Method, r.URL.Path)})
	})
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Readiness returns which nodes have reported.
func (s *Server) Readiness() Readiness {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Readiness{Nodes: s.cfg.IDs(), Ready: []paxi.ID{}}
	for id := range s.ready {
		r.Ready = append(r.Ready, id)
	}
	slices.Sort(r.Ready)
	r.All = len(r.Ready) == len(r.Nodes)
	return r
}

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) config(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.body)
}

func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	id, err := paxi.ParseID(r.URL.Query().Get("id"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{fmt.Sprintf("parameter id: %v", err)})
		return
	}
	if _, ok := s.cfg.Addrs[id]; !ok {
		writeJSON(w, http.StatusBadRequest, errorBody{fmt.Sprintf("parameter id = %v: not in the configuration (nodes: %v)", id, s.cfg.IDs())})
		return
	}
	s.mu.Lock()
	_, again := s.ready[id]
	s.ready[id] = time.Now()
	s.mu.Unlock()
	if !again {
		s.log.Info("node ready", "node", id.String(), "from", r.RemoteAddr)
	}
	writeJSON(w, http.StatusOK, s.Readiness())
}

func (s *Server) readiness(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Readiness())
}
