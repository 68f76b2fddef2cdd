package protocols_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// forbiddenImports are packages a protocol may not use: it sees the world
// only through paxi.Env, so that the simulator can replay it from a seed.
var forbiddenImports = map[string]string{
	"net":         "talk to peers through paxi.Env",
	"net/http":    "talk to peers through paxi.Env",
	"os":          "protocols have no process or files",
	"sync":        "a replica is single-threaded",
	"sync/atomic": "a replica is single-threaded",
	"flag":        "configuration comes from paxi.Config",
	"log":         "log through env.Logger()",
	"math/rand":   "use env.Rand()",
	"crypto/rand": "use env.Rand()",
	"unsafe":      "not needed, and unsafe",
}

// forbiddenCalls are package-level functions that read the outside world.
var forbiddenCalls = map[string]map[string]string{
	"time": {"Now": "use env.Now()", "Sleep": "handlers never block", "After": "use env.After",
		"Tick": "use env.After", "NewTimer": "use env.After", "NewTicker": "use env.After",
		"AfterFunc": "use env.After", "Since": "use env.Now()", "Until": "use env.Now()"},
	"math/rand/v2": {"Int": "use env.Rand()", "IntN": "use env.Rand()", "Int64": "use env.Rand()",
		"Int64N": "use env.Rand()", "Uint64": "use env.Rand()", "Float64": "use env.Rand()",
		"Perm": "use env.Rand()", "Shuffle": "use env.Rand()", "N": "use env.Rand()",
		"Int32": "use env.Rand()", "Int32N": "use env.Rand()", "Uint32": "use env.Rand()", "UintN": "use env.Rand()"},
}

// lint reports every nondeterminism in one Go file.
func lint(fset *token.FileSet, f *ast.File) []string {
	var problems []string
	report := func(n ast.Node, format string, a ...any) {
		problems = append(problems, fset.Position(n.Pos()).String()+": "+fmt.Sprintf(format, a...))
	}
	imports := map[string]string{} // local name -> path
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if why, bad := forbiddenImports[path]; bad {
			report(imp, "imports %q: %s", path, why)
		}
		name := path[strings.LastIndex(path, "/")+1:]
		if path == "math/rand/v2" {
			name = "rand"
		}
		if imp.Name != nil {
			name = imp.Name.Name
		}
		imports[name] = path
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			report(n, "starts a goroutine: a replica is single-threaded; use env.After or messages")
		case *ast.SelectStmt:
			report(n, "uses select: handlers never block")
		case *ast.ChanType:
			report(n, "uses a channel: handlers never block; send messages through env")
		case *ast.SendStmt:
			report(n, "sends on a channel")
		case *ast.UnaryExpr:
			if n.Op == token.ARROW {
				report(n, "receives from a channel")
			}
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok {
				if calls, ok := forbiddenCalls[imports[id.Name]]; ok {
					if why, bad := calls[n.Sel.Name]; bad {
						report(n, "calls %s.%s: %s", id.Name, n.Sel.Name, why)
					}
				}
			}
		}
		return true
	})
	return problems
}

// lintDir lints every non-test Go file under dir.
func lintDir(t *testing.T, dir string) []string {
	t.Helper()
	var problems []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		problems = append(problems, lint(fset, f)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return problems
}

// Every protocol sees the world only through paxi.Env.
func TestProtocolsAreDeterministic(t *testing.T) {
	for _, p := range lintDir(t, ".") {
		t.Error(p)
	}
}

// The lint catches what it promises to catch.
func TestLintCatchesNondeterminism(t *testing.T) {
	src := `package bad

import (
	"fmt"
	"os"
	"sync"
	r "math/rand/v2"
	"time"
)

var mu sync.Mutex

func f(c chan int) {
	go f(c)
	select {}
	c <- 1
	<-c
	_ = time.Now()
	time.Sleep(1)
	_ = r.IntN(3)
	_ = os.Args
	_ = time.Duration(5) // allowed
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "bad.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(lint(fset, f), "\n")
	for _, want := range []string{`imports "os"`, `imports "sync"`, "starts a goroutine", "uses select",
		"uses a channel", "sends on a channel", "receives from a channel", "calls time.Now", "calls time.Sleep", "calls r.IntN"} {
		if !strings.Contains(got, want) {
			t.Errorf("lint missed %q; reported:\n%s", want, got)
		}
	}
	if strings.Contains(got, "time.Duration") {
		t.Errorf("lint flagged time.Duration:\n%s", got)
	}
}
