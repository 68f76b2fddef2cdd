//go:build linux

package rdma_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// chanHost delivers a device's messages to a channel (buffered: Deliver
// must not block).
type chanHost chan paxi.Message

func (c chanHost) Deliver(m paxi.Message) { c <- m }

// await returns the first message from c that pred accepts, skipping the
// others, or fails the test after limit.
func await(t testing.TB, c chanHost, limit time.Duration, what string, pred func(paxi.Message) bool) paxi.Message {
	t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case m := <-c:
			if pred(m) {
				return m
			}
		case <-deadline:
			t.Fatalf("no %s after %v", what, limit)
			return nil
		}
	}
}

func wcOf(id uint64) func(paxi.Message) bool {
	return func(m paxi.Message) bool { wc, ok := m.(rdma.WC); return ok && wc.ID == id }
}

const helperEnv = "PAXI_RDMA_SHM_HELPER"

// shmProcessConfig is the two-host cluster of the cross-process test; the
// short RC timeout keeps the crash case quick.
func shmProcessConfig(dir string) rdma.ShmConfig {
	o := rdma.DefaultOptions(1)
	o.Profile.RCTimeoutExp = 8 // ≈ 8 ms
	return rdma.ShmConfig{Dir: dir, Cluster: "procs", Hosts: []paxi.ID{paxi.NewID(1, 1), paxi.NewID(1, 2)}, Options: o}
}

// TestShmHelperProcess is host 1.2 of TestShmAcrossProcesses, run in a
// child process: it registers a region, connects channels 0 and 1 to 1.1,
// and answers commands on stdin ("check": print two words of its region;
// "revoke": take remote write away on channel 0) until it is killed.
func TestShmHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("the child process of TestShmAcrossProcesses")
	}
	msgs := make(chanHost, 1024)
	d, err := rdma.OpenShm(shmProcessConfig(dir), paxi.NewID(1, 2), msgs)
	if err != nil {
		fmt.Println("error", err)
		return
	}
	mr, _ := d.Register(4096, rdma.RemoteAll)
	q0, _ := d.QP(paxi.NewID(1, 1), 0)
	q1, _ := d.QP(paxi.NewID(1, 1), 1)
	q0.Connect(rdma.RemoteAll)
	q1.Connect(rdma.RemoteAll)
	lines := make(chan string)
	go func() {
		s := bufio.NewScanner(os.Stdin)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	connected := 0
	for {
		select {
		case m := <-msgs:
			switch e := m.(type) {
			case rdma.Event:
				switch e.Kind {
				case rdma.Connected:
					if connected++; connected == 2 {
						fmt.Println("ready")
					}
				case rdma.AccessChanged:
					fmt.Println("revoked")
				}
			}
		case l, ok := <-lines:
			switch {
			case !ok:
				return
			case l == "check":
				fmt.Printf("words %x %d\n", mr.Load64(0), mr.Load64(64))
			case l == "revoke":
				q0.SetRemoteAccess(rdma.RemoteRead)
			}
		}
	}
}

// A WRITE, READ, CAS and a revocation between two processes through the
// shared files, and a crash (kill -9) seen as RetryExceeded.
func TestShmAcrossProcesses(t *testing.T) {
	if os.Getenv(helperEnv) != "" {
		t.Skip("in the child process")
	}
	dir := shmDir(t)
	msgs := make(chanHost, 1024)
	d, err := rdma.OpenShm(shmProcessConfig(dir), paxi.NewID(1, 1), msgs)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	peer := paxi.NewID(1, 2)
	q0, _ := d.QP(peer, 0)
	q1, _ := d.QP(peer, 1)
	q0.Connect(rdma.RemoteAll)
	q1.Connect(rdma.RemoteAll)

	cmd := exec.Command(os.Args[0], "-test.run=^TestShmHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	out := bufio.NewScanner(stdout)
	expect := func(prefix string) string {
		t.Helper()
		for out.Scan() {
			if strings.HasPrefix(out.Text(), prefix) {
				return out.Text()
			}
			if strings.HasPrefix(out.Text(), "error") {
				t.Fatalf("child: %s", out.Text())
			}
		}
		t.Fatalf("child ended without %q", prefix)
		return ""
	}
	expect("ready")
	for i := 0; i < 2; i++ {
		await(t, msgs, 10*time.Second, "Connected", func(m paxi.Message) bool { e, ok := m.(rdma.Event); return ok && e.Kind == rdma.Connected })
	}

	data := bytes.Repeat([]byte{0xab}, 64)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(q0.Post(rdma.WR{ID: 1, Op: rdma.Write, Local: data, RKey: rdma.FirstRKey, Signaled: true}))
	if wc := await(t, msgs, 5*time.Second, "WRITE completion", wcOf(1)).(rdma.WC); wc.Status != rdma.Success {
		t.Fatalf("write: %v", wc)
	}
	back := make([]byte, 64)
	must(q0.Post(rdma.WR{ID: 2, Op: rdma.Read, Local: back, RKey: rdma.FirstRKey, Signaled: true},
		rdma.WR{ID: 3, Op: rdma.CAS, RKey: rdma.FirstRKey, RemoteAddr: 64, Compare: 0, Swap: 7, Signaled: true},
		rdma.WR{ID: 4, Op: rdma.CAS, RKey: rdma.FirstRKey, RemoteAddr: 64, Compare: 0, Swap: 9, Signaled: true}))
	if wc := await(t, msgs, 5*time.Second, "READ completion", wcOf(2)).(rdma.WC); wc.Status != rdma.Success || !bytes.Equal(back, data) {
		t.Fatalf("read: %v %x", wc, back)
	}
	c3 := await(t, msgs, 5*time.Second, "CAS completion", wcOf(3)).(rdma.WC)
	c4 := await(t, msgs, 5*time.Second, "CAS completion", wcOf(4)).(rdma.WC)
	if c3.Status != rdma.Success || c3.Value != 0 || c4.Value != 7 {
		t.Fatalf("CAS: %v then %v, want old 0 then old 7", c3, c4)
	}
	fmt.Fprintln(stdin, "check")
	if got := expect("words"); got != "words abababababababab 7" {
		t.Fatalf("the child sees %q, want the written bytes and the swapped word 7", got)
	}

	fmt.Fprintln(stdin, "revoke")
	expect("revoked")
	must(q0.Post(rdma.WR{ID: 5, Op: rdma.Write, Local: bytes.Repeat([]byte{0xcd}, 64), RKey: rdma.FirstRKey, Signaled: true}))
	if wc := await(t, msgs, 5*time.Second, "WRITE completion", wcOf(5)).(rdma.WC); wc.Status != rdma.RemoteAccessErr {
		t.Fatalf("write after the revoke: %v, want %v", wc, rdma.RemoteAccessErr)
	}
	fmt.Fprintln(stdin, "check")
	if got := expect("words"); got != "words abababababababab 7" {
		t.Fatalf("after the refused write the child sees %q", got)
	}

	// kill -9: the process is gone (reaped), its files stay.
	cmd.Process.Kill()
	cmd.Wait()
	killed = true
	start := time.Now()
	must(q1.Post(rdma.WR{ID: 6, Op: rdma.Read, Local: make([]byte, 8), RKey: rdma.FirstRKey, Signaled: true}))
	wc := await(t, msgs, 5*time.Second, "completion to the dead peer", wcOf(6)).(rdma.WC)
	if wc.Status != rdma.RetryExceeded || time.Since(start) < d.Profile().RCTimeout() {
		t.Fatalf("read from a killed process: %v after %v, want %v after the RC timeout %v", wc, time.Since(start), rdma.RetryExceeded, d.Profile().RCTimeout())
	}
}
