// Package layout_test holds the repository to its rooms: production code
// never imports the test rig, only tests import package testing, and the
// shipped binaries link none of the test-only modules.
package layout_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/superviber/blue-operator"

// root is the repository root, seen from test/layout.
var root = filepath.Join("..", "..")

// benchmarkRig may import test/: the MCP benchmark measures the server
// against the same protocol test servers the tests use.
const benchmarkRig = "hack/bench-mcp/"

// goFile is one Go file of the repository and the packages it imports.
type goFile struct {
	path    string // slash-separated, relative to root
	imports []string
}

func goFiles(t *testing.T) []goFile {
	t.Helper()
	var files []goFile
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); p != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata" || name == "bin" || name == "dist") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		g := goFile{path: filepath.ToSlash(rel)}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			g.imports = append(g.imports, path)
		}
		files = append(files, g)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 100 {
		t.Fatalf("found only %d Go files under %s: is root right?", len(files), root)
	}
	return files
}

func TestOnlyTestsImportTesting(t *testing.T) {
	for _, f := range goFiles(t) {
		if strings.HasSuffix(f.path, "_test.go") || strings.HasPrefix(f.path, "test/") {
			continue
		}
		for _, imp := range f.imports {
			if imp == "testing" {
				t.Errorf("%s imports testing: test helpers belong in test/", f.path)
			}
		}
	}
}

func TestNothingOutsideTestImportsTheRig(t *testing.T) {
	for _, f := range goFiles(t) {
		if strings.HasPrefix(f.path, "test/") || strings.HasPrefix(f.path, benchmarkRig) {
			continue
		}
		for _, imp := range f.imports {
			if imp == module+"/test" || strings.HasPrefix(imp, module+"/test/") {
				t.Errorf("%s imports %s: tests that need the rig live under test/, at the path of the package they test", f.path, imp)
			}
		}
	}
}

// The binaries link only what they run: no test server, no test-only module.
func TestBinariesLinkNoTestCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+"/cmd/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list found only %d packages", len(deps))
	}
	forbidden := []string{
		module + "/test", module + "/hack",
		"github.com/johannesboyne/gofakes3", "github.com/yuin/gopher-lua", "github.com/hashicorp/hcl",
		"sigs.k8s.io/controller-runtime/pkg/envtest", "testing",
		// The Helm SDK only installs the chart in test/helm; Prometheus's
		// own packages (promtool, the PromQL parser) are built outside
		// this module by hack/setup-promtool.sh.
		"helm.sh/helm/v4", "github.com/prometheus/prometheus",
	}
	for _, dep := range deps {
		for _, bad := range forbidden {
			if dep == bad || strings.HasPrefix(dep, bad+"/") {
				t.Errorf("the binaries link %s", dep)
			}
		}
	}
}

// The operator and the server share only the contract: the operator's
// packages import nothing of the server's.
func TestOperatorImportsNothingOfTheServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+"/cmd/manager").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, module+"/mcpserver") {
			t.Errorf("cmd/manager links %s", dep)
		}
	}
}

// Only the client's data Lambda links the Lambda runtime: the operator and
// the MCP server never run in a Lambda.
func TestOnlyTheLambdaLinksTheLambdaRuntime(t *testing.T) {
	const lambdaRuntime = "github.com/aws/aws-lambda-go"
	for _, cmd := range []string{"manager", "blue-mcp"} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+"/cmd/"+cmd).Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == lambdaRuntime || strings.HasPrefix(dep, lambdaRuntime+"/") {
				t.Errorf("cmd/%s links %s", cmd, dep)
			}
		}
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+"/cmd/blue-data-lambda").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if !strings.Contains(" "+strings.Join(strings.Fields(string(out)), " ")+" ", " "+lambdaRuntime+"/lambda ") {
		t.Errorf("cmd/blue-data-lambda does not link %s/lambda: is the list of binaries right?", lambdaRuntime)
	}
}
