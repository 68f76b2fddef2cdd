package client

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ailidani/paxi-style/paxi"
)

// admin guards a fault endpoint with the cluster's admin token, when one is
// configured, and answers what faults are active after it ran.
func (s *server) admin(f func(q url.Values) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if tok := s.cfg.AdminToken; tok != "" {
			got := r.Header.Get(TokenHeader)
			if subtle.ConstantTimeCompare([]byte(got), []byte(tok)) != 1 {
				httpError(w, http.StatusUnauthorized, "fault endpoints need the admin token in header %s", TokenHeader)
				return
			}
		}
		if err := f(r.URL.Query()); err != nil {
			httpError(w, http.StatusBadRequest, "%v", err)
			return
		}
		s.log.Warn("fault injected", "path", r.URL.Path, "query", r.URL.RawQuery)
		writeJSON(w, map[string][]string{"faults": s.b.Faults().Faults()})
	}
}

// seconds parses parameter name as a number of seconds (fractions allowed).
func seconds(q url.Values, name string) (time.Duration, error) {
	v := q.Get(name)
	if v == "" {
		return 0, fmt.Errorf("parameter %s is missing: give a number of seconds (<= 0: until /heal)", name)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f > 1e6 {
		return 0, fmt.Errorf("parameter %s = %q: want a number of seconds up to 1e6", name, v)
	}
	return time.Duration(f * float64(time.Second)), nil
}

func (s *server) peer(q url.Values) (paxi.ID, error) {
	v := q.Get("id")
	id, err := paxi.ParseID(v)
	if err != nil {
		return 0, fmt.Errorf("parameter id: %w", err)
	}
	if _, ok := s.cfg.Addrs[id]; !ok {
		return 0, fmt.Errorf("parameter id = %v: no such node (nodes: %v)", id, s.cfg.IDs())
	}
	return id, nil
}

func (s *server) crash(q url.Values) error {
	d, err := seconds(q, "t")
	if err != nil {
		return err
	}
	s.b.Faults().Crash(d)
	return nil
}

// link parses the id and t parameters of a fault on one outgoing link.
func (s *server) link(q url.Values) (paxi.ID, time.Duration, error) {
	id, err := s.peer(q)
	if err != nil {
		return 0, 0, err
	}
	d, err := seconds(q, "t")
	return id, d, err
}

func (s *server) drop(q url.Values) error {
	id, d, err := s.link(q)
	if err != nil {
		return err
	}
	s.b.Faults().Drop(id, d)
	return nil
}

func (s *server) slow(q url.Values) error {
	id, d, err := s.link(q)
	if err != nil {
		return err
	}
	ms, err := strconv.ParseFloat(q.Get("delay"), 64)
	if err != nil || ms < 0 || ms > 600000 {
		return fmt.Errorf("parameter delay = %q: want milliseconds in [0, 600000]", q.Get("delay"))
	}
	s.b.Faults().Slow(id, time.Duration(ms*float64(time.Millisecond)), d)
	return nil
}

func (s *server) flaky(q url.Values) error {
	id, d, err := s.link(q)
	if err != nil {
		return err
	}
	p, err := strconv.ParseFloat(q.Get("p"), 64)
	if err != nil || p < 0 || p > 1 {
		return fmt.Errorf("parameter p = %q: want a drop probability in [0, 1]", q.Get("p"))
	}
	s.b.Faults().Flaky(id, p, d)
	return nil
}

func (s *server) heal(url.Values) error {
	s.b.Faults().Heal()
	return nil
}
