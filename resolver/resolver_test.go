package resolver

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pysmoke/pysmoke/dist"
)

// fakeIndex is an in-memory index for unit tests of the search; the real
// index and mirror are exercised by the service's tests.
type fakeIndex struct {
	files map[string][]Candidate
	meta  map[string][]string // filename -> Requires-Dist
	// metaPython is a file's Requires-Python in its metadata only (the
	// index does not say it).
	metaPython map[string]string
}

func (f *fakeIndex) add(file string, requiresPython string, yanked bool, deps ...string) {
	df, err := dist.ParseFilename(file)
	if err != nil {
		panic(err)
	}
	name := dist.Normalize(df.Name)
	if f.files == nil {
		f.files, f.meta = map[string][]Candidate{}, map[string][]string{}
	}
	f.files[name] = append(f.files[name], Candidate{Project: name, Version: df.Version, Filename: file, SHA256: "h-" + file,
		RequiresPython: requiresPython, Yanked: yanked})
	f.meta[file] = deps
}

func (f *fakeIndex) Files(_ context.Context, project string) ([]Candidate, error) {
	fs, ok := f.files[project]
	if !ok {
		return nil, fmt.Errorf("%s: %w", project, ErrNoProject)
	}
	return fs, nil
}

func (f *fakeIndex) Metadata(_ context.Context, c Candidate) (dist.Metadata, error) {
	return dist.Metadata{Name: c.Project, Version: c.Version, RequiresDist: f.meta[c.Filename], RequiresPython: f.metaPython[c.Filename]}, nil
}

func target(major, minor int, full string) Target {
	env := dist.Environment{"python_version": fmt.Sprintf("%d.%d", major, minor), "python_full_version": full,
		"sys_platform": "linux", "os_name": "posix", "platform_python_implementation": "CPython",
		"implementation_name": "cpython", "platform_machine": "x86_64", "platform_system": "Linux"}
	return Target{PythonVersion: full, Env: env, Tags: dist.CPythonTags(major, minor, 36, false)}
}

func pins(r Result) string {
	var s []string
	for _, p := range r.Pins {
		s = append(s, p.Project+"=="+p.Version)
	}
	return strings.Join(s, " ")
}

func TestResolve(t *testing.T) {
	idx := &fakeIndex{}
	idx.add("b-1.0-py3-none-any.whl", "", false)
	idx.add("b-2.0-py3-none-any.whl", "", false, "c<1")
	idx.add("c-0.9-py3-none-any.whl", "", false)
	idx.add("c-1.5-py2.py3-none-any.whl", "", false)
	idx.add("mock-3.0-py2.py3-none-any.whl", "", false)
	idx.add("pytest_x-1.0-py3-none-any.whl", "", false, "b")
	idx.add("newonly-1.0-py3-none-any.whl", ">=3.8", false)
	idx.add("newonly-2.0-py3-none-any.whl", ">=3.10", false)
	idx.add("native-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", "", false)
	idx.add("native-1.0.tar.gz", "", false)
	idx.add("gone-1.0-py3-none-any.whl", "", false)
	idx.add("gone-1.1-py3-none-any.whl", "", true)

	py36, py39, py312 := target(3, 6, "3.6.15"), target(3, 9, "3.9.18"), target(3, 12, "3.12.1")
	cases := []struct {
		name     string
		reqs     []string
		extras   []string
		t        Target
		pins     string
		unmet    string
		declared bool
	}{
		{"closure, newest first", []string{"c"}, nil, py312, "c==1.5", "", false},
		{"backtracks from a conflicting newest version", []string{"b", "c>=1"}, nil, py312, "b==1.0 c==1.5", "", false},
		{"takes the newest when it fits", []string{"b", "c"}, nil, py312, "b==2.0 c==0.9", "", false},
		{"marker false on 3.x", []string{`mock; python_version < "3.3"`}, nil, py312, "", "", false},
		{"extra brings its requirements", []string{`pytest-x; extra == "test"`}, []string{"test"}, py312, "b==2.0 c==0.9 pytest-x==1.0", "", false},
		{"extra not requested", []string{`pytest-x; extra == "test"`}, nil, py312, "", "", false},
		{"Requires-Python picks an older version", []string{"newonly"}, nil, py39, "newonly==1.0", "", false},
		{"Requires-Python excludes all: declared unsupported", []string{"newonly"}, nil, py36, "", "newonly", true},
		{"not on the index", []string{"nosuch>=1"}, nil, py312, "", "nosuch is not on the index", false},
		{"no compatible wheel without sdists", []string{"native"}, nil, py39, "", "no file of native is compatible with Python 3.9.18", false},
		{"yanked skipped", []string{"gone"}, nil, py312, "gone==1.0", "", false},
		{"yanked taken by an exact pin", []string{"gone==1.1"}, nil, py312, "gone==1.1", "", false},
		{"unsatisfiable specifier", []string{"c>=2"}, nil, py312, "", "no version of c satisfies >=2", false},
		{"direct URL", []string{"c @ https://example.org/c.zip"}, nil, py312, "", "direct URL", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := Resolve(context.Background(), idx, c.reqs, c.extras, c.t)
			if err != nil {
				t.Fatal(err)
			}
			if c.unmet != "" {
				if res.Unmet == nil || !strings.Contains(res.Unmet.Error(), c.unmet) || res.Unmet.DeclaredUnsupported != c.declared {
					t.Fatalf("unmet = %+v, want one mentioning %q (declared unsupported %v)", res.Unmet, c.unmet, c.declared)
				}
				return
			}
			if res.Unmet != nil {
				t.Fatalf("unmet: %v", res.Unmet)
			}
			if got := pins(res); got != c.pins {
				t.Fatalf("pins %q, want %q", got, c.pins)
			}
		})
	}
	// With sdists allowed, the sdist serves where no wheel fits.
	withSdists := py39
	withSdists.AllowSdists = true
	res, err := Resolve(context.Background(), idx, []string{"native"}, nil, withSdists)
	if err != nil || res.Unmet != nil || res.Pins[0].Filename != "native-1.0.tar.gz" {
		t.Fatalf("sdist fallback: %+v %v", res, err)
	}
}

// TestResolveMetadataRequiresPython: when only the metadata (not the
// index) says Requires-Python, an excluded interpreter is still refused, as
// the dependency's own declaration; an older version that allows it is
// taken instead where there is one.
func TestResolveMetadataRequiresPython(t *testing.T) {
	idx := &fakeIndex{}
	idx.add("late-1.0.tar.gz", "", false)
	idx.add("late-2.0.tar.gz", "", false)
	idx.add("only-1.0.tar.gz", "", false)
	idx.metaPython = map[string]string{"late-2.0.tar.gz": ">=3.8", "only-1.0.tar.gz": ">=3.8"}
	py37 := target(3, 7, "3.7.17")
	py37.AllowSdists = true
	res, err := Resolve(context.Background(), idx, []string{"late"}, nil, py37)
	if err != nil || res.Unmet != nil || pins(res) != "late==1.0" {
		t.Fatalf("late on 3.7: %+v %v, want late==1.0", res, err)
	}
	res, err = Resolve(context.Background(), idx, []string{"only"}, nil, py37)
	if err != nil || res.Unmet == nil {
		t.Fatalf("only on 3.7: %+v %v, want unmet", res, err)
	}
	if want := (Unmet{Requirement: "only", Reason: "only 1.0 requires Python >=3.8, not 3.7.17", DeclaredUnsupported: true}); *res.Unmet != want {
		t.Errorf("unmet %+v, want %+v", *res.Unmet, want)
	}
}

func TestResolveBudget(t *testing.T) {
	// a requires b and c; every b requires c<1 and every c >= 1: no
	// solution, and a search that must give up within its budget.
	idx := &fakeIndex{}
	for i := 0; i < 60; i++ {
		idx.add(fmt.Sprintf("b-%d.0-py3-none-any.whl", i+1), "", false, "c<1")
		idx.add(fmt.Sprintf("c-%d.0-py3-none-any.whl", i+1), "", false)
	}
	tg := target(3, 12, "3.12.1")
	tg.MaxSteps = 100
	_, err := Resolve(context.Background(), idx, []string{"b", "c>=1"}, nil, tg)
	if err != ErrTooComplex {
		t.Fatalf("err = %v, want ErrTooComplex", err)
	}
}
