package paxi

import (
	"strings"
	"testing"
)

// The rdma section: the zero value is valid; bad backends, relative
// directories and cluster names that cannot name a file are reported by
// field.
func TestRDMAConfigValidate(t *testing.T) {
	cases := []struct {
		name    string
		r       RDMAConfig
		wantErr string
	}{
		{"zero value", RDMAConfig{}, ""},
		{"shm with a directory", RDMAConfig{Backend: RDMAShm, Dir: "/dev/shm", Cluster: "c-1.a_b"}, ""},
		{"unknown backend", RDMAConfig{Backend: "verbs"}, `rdma.backend = "verbs"`},
		{"relative directory", RDMAConfig{Backend: RDMAShm, Dir: "shm"}, `rdma.dir = "shm": must be an absolute path`},
		{"cluster with a slash", RDMAConfig{Cluster: "a/b"}, `rdma.cluster = "a/b"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.RDMA = c.r
			err := cfg.Validate()
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
	if d := (RDMAConfig{}).DirName(); d != "/dev/shm" {
		t.Fatalf("default dir %q", d)
	}
	if b := (RDMAConfig{}).BackendName(); b != RDMAMem {
		t.Fatalf("default backend %q", b)
	}
}
