package runner

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestReadPytestConfig: pytest's own order of configuration files, each
// as projects write them; expectations by hand.
func TestReadPytestConfig(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  pytestConfig
	}{
		{"none", map[string]string{"setup.cfg": "[metadata]\nname = x\n", "tox.ini": "[testenv]\ndeps = pytest\n"}, pytestConfig{}},
		{"setup.cfg, as chardet", map[string]string{"setup.cfg": "[metadata]\nname = chardet\n\n[tool:pytest]\npython_files = test.py\n"},
			pytestConfig{File: "setup.cfg", PythonFiles: []string{"test.py"}}},
		{"tox.ini's [pytest] before setup.cfg", map[string]string{"tox.ini": "[testenv]\ndeps = x\n[pytest]\ntestpaths =\n    tests\n    integration\naddopts = -ra -k 'not slow'\n",
			"setup.cfg": "[tool:pytest]\npython_files = x.py\n"},
			pytestConfig{File: "tox.ini", TestPaths: []string{"tests", "integration"}, AddOpts: []string{"-ra", "-k", "not slow"}}},
		{"pyproject.toml before tox.ini, lists or strings", map[string]string{
			"pyproject.toml": "[tool.pytest.ini_options]\naddopts = [\"--cov=app\", \"-ra\"]\ntestpaths = \"tests\"\npython_files = [\"test_*.py\", \"check_*.py\"]\n",
			"tox.ini":        "[pytest]\naddopts = -x\n"},
			pytestConfig{File: "pyproject.toml", AddOpts: []string{"--cov=app", "-ra"}, TestPaths: []string{"tests"}, PythonFiles: []string{"test_*.py", "check_*.py"}}},
		{"a pyproject.toml without the table is not pytest's", map[string]string{"pyproject.toml": "[tool.black]\nline-length = 99\n", "tox.ini": "[pytest]\naddopts = -x\n"},
			pytestConfig{File: "tox.ini", AddOpts: []string{"-x"}}},
		{"pytest.ini whatever it holds", map[string]string{"pytest.ini": "# empty\n", "pyproject.toml": "[tool.pytest.ini_options]\naddopts = \"-x\"\n"},
			pytestConfig{File: "pytest.ini"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range c.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := readPytestConfig(dir); !reflect.DeepEqual(got, c.want) {
				t.Errorf("readPytestConfig = %#v, want %#v", got, c.want)
			}
		})
	}
}

func TestPytestConfigCopies(t *testing.T) {
	c := pytestConfig{File: "setup.cfg", TestPaths: []string{"src/app/tests", "../up", "/abs", "missing", "tests/*"}, PythonFiles: []string{"test.py", "check_*.py"}}
	kinds := map[string]bool{"conftest.py": false, "src/app/tests": true, "test.py": false, "check_a.py": false, "check_dir.py": true, "setup.py": false}
	kind := func(rel string) (bool, bool) { d, ok := kinds[rel]; return d, ok }
	config, tests := c.copies([]string{"setup.py", "test.py", "check_a.py", "check_dir.py", "app", "README"}, kind)
	if want := []string{"setup.cfg", "conftest.py"}; !reflect.DeepEqual(config, want) {
		t.Errorf("config %q, want %q", config, want)
	}
	if want := []string{"src/app/tests", "test.py", "check_a.py"}; !reflect.DeepEqual(tests, want) {
		t.Errorf("tests %q, want %q", tests, want)
	}
	if config, tests := (pytestConfig{}).copies([]string{"test.py"}, kind); config != nil || tests != nil {
		t.Errorf("no configuration: %q %q", config, tests)
	}
}

func TestWithoutMissingPlugins(t *testing.T) {
	args := []string{"-ra", "--cov=app", "--cov-report", "term-missing", "--cov", "-n", "4", "-n4", "--timeout=30",
		"-p", "pytest_cov", "-p", "no:cacheprovider", "-p", "myplugin", "--strict-markers", "--dist", "loadfile"}
	none := func(string) bool { return false }
	want := []string{"-ra", "-p", "no:cacheprovider", "-p", "myplugin", "--strict-markers"}
	if got := withoutMissingPlugins(args, none); !reflect.DeepEqual(got, want) {
		t.Errorf("without plugins: %q, want %q", got, want)
	}
	cov := func(p string) bool { return p == "pytest-cov" }
	want = []string{"-ra", "--cov=app", "--cov-report", "term-missing", "--cov", "-p", "pytest_cov", "-p", "no:cacheprovider", "-p", "myplugin", "--strict-markers"}
	if got := withoutMissingPlugins(args, cov); !reflect.DeepEqual(got, want) {
		t.Errorf("with pytest-cov: %q, want %q", got, want)
	}
	for w, q := range map[string]string{"-ra": "-ra", "not slow": "'not slow'", "it's": `'it'"'"'s'`, "": "''"} {
		if got := shellQuote(w); got != q {
			t.Errorf("shellQuote(%q) = %s, want %s", w, got, q)
		}
		if w != "" {
			if got := shellWords(shellQuote(w)); len(got) != 1 || got[0] != w {
				t.Errorf("shellWords(shellQuote(%q)) = %q", w, got)
			}
		}
	}
}
