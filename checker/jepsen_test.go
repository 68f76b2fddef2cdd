package checker_test

import (
	"bufio"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/ailidani/paxi-style/checker"
)

// porcupineData is where the Jepsen logs live: the shared testdata checked
// out in a directory named shared beside this repository's directory.
const porcupineData = "../../shared/testdata/histories/porcupine"

// expected reads EXPECTED.tsv: file -> "linearizable" or "not".
func expected(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(porcupineData, "EXPECTED.tsv"))
	if os.IsNotExist(err) {
		abs, _ := filepath.Abs(porcupineData)
		t.Skipf("no Jepsen test data: looked for %s/EXPECTED.tsv (the shared repository checked out beside this one)", abs)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := make(map[string]string)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 3 || !strings.HasSuffix(cols[0], ".log") {
			continue // header and provenance rows
		}
		want[cols[0]] = cols[2]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return want
}

func TestJepsenEtcd(t *testing.T) {
	want := expected(t)
	logs, err := filepath.Glob(filepath.Join(porcupineData, "jepsen", "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) == 0 || len(logs) != len(want) {
		t.Fatalf("%d logs, %d expected verdicts", len(logs), len(want))
	}
	counts := make(map[checker.Verdict]int)
	start := time.Now()
	for _, path := range logs {
		name := "jepsen/" + filepath.Base(path)
		exp, ok := want[name]
		if !ok {
			t.Errorf("%s: no expected verdict", name)
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		ops, err := checker.ReadJepsenEtcd(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		rep, err := checker.CheckJepsenEtcd(context.Background(), ops, checker.Options{Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		counts[rep.Verdict]++
		wantVerdict := checker.Illegal
		if exp == "linearizable" {
			wantVerdict = checker.Ok
		}
		if rep.Verdict != wantVerdict {
			t.Errorf("%s: %s, want %s (%s)", name, rep.Verdict, wantVerdict, exp)
		}
	}
	t.Logf("%d logs in %v: %v", len(logs), time.Since(start).Round(time.Millisecond), counts)
}

func TestReadJepsenEtcd(t *testing.T) {
	log := strings.Join([]string{
		"INFO  jepsen.util - 0\t:invoke\t:read\tnil",
		"INFO  jepsen.util - 1\t:invoke\t:write\t3",
		"INFO  jepsen.util - 0\t:ok\t:read\tnil",
		"INFO  jepsen.util - 2   :invoke :cas    [3 4]", // spaces, as in some logs
		"",
		"INFO  jepsen.util - 1\t:info\t:write\t:timed-out",
		"INFO  jepsen.util - 2\t:fail\t:cas\t[3 4]",
		"INFO  jepsen.util - 0\t:invoke\t:write\t5",
		"INFO  jepsen.util - 0\t:fail\t:write\t5", // did not happen
		"INFO  jepsen.util - 3\t:invoke\t:read\tnil",
		"INFO  jepsen.util - 3\t:info\t:read\t:timed-out", // tells nothing
		"INFO  jepsen.util - 4\t:invoke\t:cas\t[1 2]",     // never completes
	}, "\n")
	ops, err := checker.ReadJepsenEtcd(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	type span struct{ call, ret int64 }
	var got []span
	for _, o := range ops {
		got = append(got, span{o.Call, o.Return})
	}
	want := []span{{1, 3}, {2, math.MaxInt64}, {4, 7}, {12, math.MaxInt64}}
	if len(got) != len(want) {
		t.Fatalf("operations %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("operation %d: [%d,%d], want [%d,%d]", i, got[i].call, got[i].ret, want[i].call, want[i].ret)
		}
	}
	// read nil, then the cas fails, so the write (unknown) has not happened
	// before the cas: legal.
	if !porcupine.CheckOperations(checker.RegisterModel(), ops) {
		t.Errorf("log is not linearizable")
	}
}

func TestReadJepsenEtcdErrors(t *testing.T) {
	for _, log := range []string{
		"hello",
		"INFO  jepsen.util - 0\t:ok\t:read\tnil", // no invoke
		"INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:write\t1", // wrong completion
		"INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:invoke\t:read\tnil",
		"INFO  jepsen.util - 0\t:invoke\t:write\tx",
		"INFO  jepsen.util - 0\t:invoke\t:cas\t[1]",
		"INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:read\tx",
	} {
		if _, err := checker.ReadJepsenEtcd(strings.NewReader(log)); err == nil {
			t.Errorf("%q: no error", log)
		}
	}
}

// The register model on small hand-drawn logs: the tests must be able to
// fail on a wrong cas rule.
func TestRegisterModel(t *testing.T) {
	tests := []struct {
		name string
		log  []string
		want checker.Verdict
	}{
		{"cas succeeds on a match", []string{
			"0 :invoke :write 1", "0 :ok :write 1",
			"0 :invoke :cas [1 2]", "0 :ok :cas [1 2]",
			"0 :invoke :read nil", "0 :ok :read 2",
		}, checker.Ok},
		{"cas cannot succeed on a mismatch", []string{
			"0 :invoke :write 1", "0 :ok :write 1",
			"0 :invoke :cas [5 2]", "0 :ok :cas [5 2]",
		}, checker.Illegal},
		{"cas cannot fail on a match", []string{
			"0 :invoke :write 1", "0 :ok :write 1",
			"0 :invoke :cas [1 2]", "0 :fail :cas [1 2]",
		}, checker.Illegal},
		{"a failed cas changes nothing", []string{
			"0 :invoke :write 1", "0 :ok :write 1",
			"0 :invoke :cas [5 2]", "0 :fail :cas [5 2]",
			"0 :invoke :read nil", "0 :ok :read 2",
		}, checker.Illegal},
		{"unknown cas may have happened", []string{
			"0 :invoke :write 1", "0 :ok :write 1",
			"0 :invoke :cas [1 2]", "0 :info :cas :timed-out",
			"1 :invoke :read nil", "1 :ok :read 2",
			"1 :invoke :read nil", "1 :ok :read 2",
		}, checker.Ok},
		{"unknown cas happens once", []string{
			"0 :invoke :write 1", "0 :ok :write 1",
			"0 :invoke :cas [1 2]", "0 :info :cas :timed-out",
			"1 :invoke :read nil", "1 :ok :read 2",
			"1 :invoke :read nil", "1 :ok :read 1",
		}, checker.Illegal},
	}
	for _, tc := range tests {
		var lines []string
		for _, l := range tc.log {
			lines = append(lines, "INFO  jepsen.util - "+l)
		}
		ops, err := checker.ReadJepsenEtcd(strings.NewReader(strings.Join(lines, "\n")))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		rep, err := checker.CheckJepsenEtcd(context.Background(), ops, checker.Options{Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, rep.Verdict, tc.want)
		}
	}
}
