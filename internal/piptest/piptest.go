// Package piptest holds what the tests that check pysmoke against pip, an
// independent client, share: where the interpreters are and a clean
// environment to run pip in.
package piptest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Interpreters lists $(pyenv root)/versions/*/bin/python, sorted.
func Interpreters() []string {
	root := os.Getenv("PYENV_ROOT")
	if out, err := exec.Command("pyenv", "root").Output(); err == nil {
		root = strings.TrimSpace(string(out))
	}
	if root == "" {
		if home, err := os.UserHomeDir(); err == nil {
			root = filepath.Join(home, ".pyenv")
		}
	}
	found, _ := filepath.Glob(filepath.Join(root, "versions", "*", "bin", "python"))
	slices.Sort(found)
	return found
}

// Env is the environment for a pip run: the test's own, minus every PIP_*
// setting (a PIP_FIND_LINKS or PIP_INDEX_URL would let pip find a sample
// elsewhere than on the index under test), PYTHON* settings and proxies,
// with HOME and the configuration pointed away from the user's and the
// machine's.
func Env(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch up := strings.ToUpper(k); {
		case strings.HasPrefix(up, "PIP_"), strings.HasPrefix(up, "PYTHON"),
			up == "HOME", up == "XDG_CONFIG_HOME", strings.HasSuffix(up, "_PROXY"):
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"PIP_CONFIG_FILE="+os.DevNull, // pip then reads no config file at all
		"PIP_NO_INPUT=1",
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONNOUSERSITE=1",
	)
}

// probeScript prints pip's version and whether setuptools and wheel import;
// it runs on Python 2.7 too. setuptools goes first: once pip has imported
// the stdlib distutils, setuptools' distutils shim refuses to load.
const probeScript = `
import sys
def has(module):
    try:
        __import__(module)
        return "true"
    except Exception:
        return "false"
setuptools, wheel = has("setuptools"), has("wheel")
import pip
sys.stdout.write("%s %s %s\n" % (pip.__version__, setuptools, wheel))
`

// Pip is what an interpreter's own pip installation is.
type Pip struct {
	Version           string
	Setuptools, Wheel bool
}

// Probe asks python for its pip's version and whether setuptools and wheel
// import, in env and dir.
func Probe(python string, env []string, dir string) (Pip, error) {
	cmd := exec.Command(python, "-c", probeScript)
	cmd.Env, cmd.Dir = env, dir
	out, err := cmd.Output() // stdout only: setuptools may warn on stderr
	if err != nil {
		return Pip{}, fmt.Errorf("probing %s: %w", python, err)
	}
	var p Pip
	if _, err := fmt.Sscanf(string(out), "%s %t %t", &p.Version, &p.Setuptools, &p.Wheel); err != nil {
		return Pip{}, fmt.Errorf("probing %s: %q: %w", python, out, err)
	}
	return p, nil
}

// AtLeast reports whether this pip is at least major.minor.
func (p Pip) AtLeast(major, minor int) bool {
	parts := strings.SplitN(p.Version, ".", 3)
	ma, _ := strconv.Atoi(parts[0])
	mi := 0
	if len(parts) > 1 {
		mi, _ = strconv.Atoi(parts[1])
	}
	return ma > major || ma == major && mi >= minor
}

// Formats notes the Content-Type of each simple page of one project that
// the index served, by the Python version in pip's User-Agent (pip says
// it as "python":"3.12.1"): which format of the simple API each pip was
// given.
type Formats struct {
	prefix string
	mu     sync.Mutex
	by     map[string][]string
}

// NewFormats records the pages under /simple/project/.
func NewFormats(project string) *Formats {
	return &Formats{prefix: "/simple/" + project + "/", by: map[string][]string{}}
}

// Observe records r's answer, once w's headers are set.
func (f *Formats) Observe(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, f.prefix) {
		return
	}
	ua := r.UserAgent()
	_, rest, ok := strings.Cut(ua, `"python":"`)
	py, _, _ := strings.Cut(rest, `"`)
	if !ok {
		py = ua
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.by[py] = append(f.by[py], w.Header().Get("Content-Type"))
}

// Wrap serves h and records its answers.
func (f *Formats) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		f.Observe(w, r)
	})
}

// Of returns the Content-Types served to the pip of Python version py.
func (f *Formats) Of(py string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.by[py])
}
