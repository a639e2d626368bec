package runner

import (
	"reflect"
	"testing"
)

// TestMapCommands: projects' test commands as tox and hatch give them
// (placeholders already substituted), mapped to the test environment by
// hand-written expectations.
func TestMapCommands(t *testing.T) {
	cases := []struct {
		name string
		cmds [][]string
		want []projectCommand
		ok   bool
	}{
		{"futures", [][]string{{"python", "test_futures.py"}}, []projectCommand{{argv: []string{"python", "test_futures.py"}}}, true},
		{"python-dateutil", [][]string{{"python", "-m", "pytest", "./tests", "--cov-config=./tox.ini", "--cov=dateutil"}},
			[]projectCommand{{argv: []string{"python", "-m", "pytest", "./tests", "--cov-config=./tox.ini", "--cov=dateutil"}, pytest: true}}, true},
		{"pytest, coverage around it, installs and reports dropped", [][]string{
			{"pip", "install", "-e", "."}, {"python", "-m", "pip", "install", "x"}, {"coverage", "erase"},
			{"coverage", "run", "--source", "app", "--parallel-mode", "-m", "pytest", "-q", "tests"},
			{"python", "-m", "coverage", "run", "-m", "unittest", "discover"}, {"coverage", "report"},
			{"py.test", "-x"}, {"/usr/bin/python3.12", "-m", "unittest"}},
			[]projectCommand{{argv: []string{"python", "-m", "pytest", "-q", "tests"}, pytest: true},
				{argv: []string{"python", "-m", "unittest", "discover"}},
				{argv: []string{"python", "-m", "pytest", "-x"}, pytest: true},
				{argv: []string{"python", "-m", "unittest"}}}, true},
		{"make is not mapped", [][]string{{"pytest"}, {"make", "test"}}, nil, false},
		{"sphinx is not mapped", [][]string{{"sphinx-build", "-W", "docs", "out"}}, nil, false},
		{"only installs", [][]string{{"pip", "install", "."}}, nil, false},
		{"pythonic names that are not Python", [][]string{{"python-config", "--libs"}}, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, why, ok := mapCommands(c.cmds)
			if ok != c.ok || !reflect.DeepEqual(got, c.want) {
				t.Errorf("mapCommands = %#v, %v (%s); want %#v, %v", got, ok, why, c.want, c.ok)
			}
			if !ok && why == "" {
				t.Error("no reason given")
			}
		})
	}
	paths := commandPaths([]projectCommand{{argv: []string{"python", "-m", "pytest", "./tests", "--cov=x", "-k", "not slow", "../up", "/abs", "src/app/tests", "a=b"}}})
	if want := []string{"pytest", "tests", "not slow", "src/app/tests"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("commandPaths = %q, want %q", paths, want)
	}
}
