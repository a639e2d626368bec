// Package walls holds the test that keeps pysmoke's import graph to its
// design: data flows one way (index -> crawler -> queue -> runner -> store
// -> report and feeds), the vocabulary sits at the bottom, and only the
// binary wires the service. It reads the graph with go list, as built,
// transitive imports included.
package walls

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/pysmoke/pysmoke/"

// rule forbids the packages of from (and their transitive imports) to
// import any of to.
type rule struct {
	from, to []string
	why      string
}

var rules = []rule{
	{[]string{"runner", "sandbox", "index"}, []string{"store", "report", "feeds", "crawler", "service"},
		"the job machinery knows nothing of where jobs come from or where results go"},
	{[]string{"crawler"}, []string{"runner", "report", "feeds"}, "the crawler only finds releases"},
	{[]string{"report", "feeds"}, []string{"runner", "crawler", "sandbox", "service"}, "the reports read results through the store and outcome"},
	{[]string{"store"}, []string{"runner", "sandbox"}, "the store keeps its own rows"},
	{[]string{"outcome"}, []string{"*"}, "the vocabulary is the bottom of the graph"},
	{[]string{"logtext"}, []string{"*"}, "reading a log as text needs nothing of pysmoke"},
	{[]string{"regression"}, []string{"store", "runner", "sandbox", "index", "report", "feeds", "crawler", "service", "queue"},
		"classification reads statuses, whoever recorded them"},
	{[]string{"experiment"}, []string{"store", "queue", "report", "feeds", "crawler", "service"},
		"an experiment hands jobs to a runner and keeps its own journal"},
	{[]string{"runner", "store", "report", "feeds", "crawler", "regression"}, []string{"experiment"},
		"experiments sit above the job machinery; nothing below reads them"},
}

// pkg is what go list says of one package.
type pkg struct {
	ImportPath string
	Imports    []string // direct
	Deps       []string // transitive
}

// violations checks a graph (short import paths, "cmd/pysmoke") against
// the rules, and for cycles and for service imported outside cmd/.
func violations(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		for _, r := range rules {
			if !slices.Contains(r.from, p.ImportPath) {
				continue
			}
			for _, d := range p.Deps {
				top := strings.SplitN(d, "/", 2)[0]
				if slices.Contains(r.to, top) || (slices.Contains(r.to, "*") && d != p.ImportPath) {
					out = append(out, fmt.Sprintf("%s imports %s: %s", p.ImportPath, d, r.why))
				}
			}
		}
		if !strings.HasPrefix(p.ImportPath, "cmd/") && p.ImportPath != "service" && slices.Contains(p.Deps, "service") {
			out = append(out, fmt.Sprintf("%s imports service: only the binary wires the service", p.ImportPath))
		}
	}
	// Cycles, over the direct imports.
	edges := map[string][]string{}
	for _, p := range pkgs {
		edges[p.ImportPath] = p.Imports
	}
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(n string)
	visit = func(n string) {
		state[n] = onPath
		path = append(path, n)
		for _, m := range edges[n] {
			switch state[m] {
			case onPath:
				i := slices.Index(path, m)
				out = append(out, "import cycle: "+strings.Join(append(slices.Clone(path[i:]), m), " -> "))
			case unseen:
				visit(m)
			}
		}
		path = path[:len(path)-1]
		state[n] = done
	}
	names := make([]string, 0, len(edges))
	for n := range edges {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if state[n] == unseen {
			visit(n)
		}
	}
	return out
}

// TestImportGraph reads pysmoke's own import graph and checks it.
func TestImportGraph(t *testing.T) {
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", module+"...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, short(p))
	}
	if len(pkgs) < 15 {
		t.Fatalf("go list gave %d packages; the graph was not read", len(pkgs))
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

// short keeps the module's own packages, without the module path.
func short(p pkg) pkg {
	keep := func(ps []string) []string {
		var out []string
		for _, x := range ps {
			if s, ok := strings.CutPrefix(x, module); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return pkg{ImportPath: strings.TrimPrefix(p.ImportPath, module), Imports: keep(p.Imports), Deps: keep(p.Deps)}
}

// TestViolations: the checker finds each kind of breach in a graph made
// to have them, and nothing in one that keeps the walls.
func TestViolations(t *testing.T) {
	good := []pkg{
		{ImportPath: "outcome"},
		{ImportPath: "sandbox"},
		{ImportPath: "runner", Imports: []string{"sandbox", "outcome"}, Deps: []string{"sandbox", "outcome"}},
		{ImportPath: "store", Imports: []string{"outcome"}, Deps: []string{"outcome"}},
		{ImportPath: "service", Imports: []string{"runner", "store"}, Deps: []string{"runner", "store", "sandbox", "outcome"}},
		{ImportPath: "cmd/pysmoke", Imports: []string{"service"}, Deps: []string{"service", "runner", "store", "sandbox", "outcome"}},
	}
	if v := violations(good); len(v) != 0 {
		t.Errorf("violations in a good graph: %q", v)
	}
	bad := []pkg{
		{ImportPath: "outcome", Imports: []string{"dist"}, Deps: []string{"dist"}},
		{ImportPath: "dist"},
		{ImportPath: "report", Imports: []string{"store"}, Deps: []string{"store", "runner"}}, // through store
		{ImportPath: "store", Imports: []string{"runner"}, Deps: []string{"runner"}},
		{ImportPath: "runner", Imports: []string{"feeds"}, Deps: []string{"feeds"}},
		{ImportPath: "feeds", Imports: []string{"runner"}, Deps: []string{"runner"}},
		{ImportPath: "crawler", Imports: []string{"service"}, Deps: []string{"service"}},
		{ImportPath: "service"},
	}
	want := []string{
		"outcome imports dist",
		"report imports runner",
		"store imports runner",
		"runner imports feeds",
		"feeds imports runner",
		"crawler imports service",
		"import cycle: feeds -> runner -> feeds",
	}
	got := violations(bad)
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w) }) {
			t.Errorf("no violation %q among %q", w, got)
		}
	}
}
