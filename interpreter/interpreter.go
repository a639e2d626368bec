// Package interpreter finds the Python interpreters of a machine and says
// what each is: it runs each candidate once, with a probe that works on
// Python 2.7 and every 3.x, and keeps the newest patch release of each
// minor version. Those runs are the only programs pysmoke itself starts on
// the host besides the sandboxes; no package code is involved.
package interpreter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Interpreter is one Python installation, identified by running it.
type Interpreter struct {
	Path           string `json:"path"`    // resolved executable
	Prefix         string `json:"prefix"`  // sys.prefix: the tree mounted read-only into sandboxes
	Version        string `json:"version"` // "3.11.7"
	Minor          string `json:"minor"`   // "3.11": the report column
	Implementation string `json:"implementation"`
	ABI            string `json:"abi"`                  // the wheel ABI tag: "cp311", "cp37m", "cp27mu"
	Setuptools     string `json:"setuptools,omitempty"` // version, empty when absent
	Wheel          string `json:"wheel,omitempty"`      // version of the wheel package, empty when absent
	Lib2to3        bool   `json:"lib2to3"`
}

// probe prints what pysmoke needs to know about an interpreter. It must
// run unchanged on Python 2.7 and on every 3.x, and import nothing that
// could be missing without catching it.
const probe = `
import json, platform, sys
info = {"prefix": sys.prefix, "executable": sys.executable,
        "version": "%d.%d.%d" % sys.version_info[:3],
        "implementation": platform.python_implementation()}
flags = getattr(sys, "abiflags", None)
if flags is None:
    flags = ("d" if hasattr(sys, "gettotalrefcount") else "") + "m" + ("u" if sys.maxunicode == 0x10ffff else "")
prefix = {"CPython": "cp", "PyPy": "pp"}.get(info["implementation"], info["implementation"].lower()[:2])
info["abi"] = prefix + "%d%d" % sys.version_info[:2] + flags
try:
    import setuptools
    info["setuptools"] = getattr(setuptools, "__version__", "unknown")
except Exception:
    info["setuptools"] = ""
try:
    import wheel
    info["wheel"] = getattr(wheel, "__version__", "unknown")
except Exception:
    info["wheel"] = ""
try:
    import lib2to3.main
    info["lib2to3"] = True
except Exception:
    info["lib2to3"] = False
sys.stdout.write(json.dumps(info))
`

// Identify runs the interpreter at path (on the host: the interpreter is
// trusted, no package code runs) and returns what it says of itself.
func Identify(ctx context.Context, path string) (Interpreter, error) {
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return Interpreter{}, fmt.Errorf("interpreter %s: %w", path, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, resolved, "-I", "-c", probe)
	if strings.Contains(filepath.Base(resolved), "python2") {
		// Python 2 has no -I; -E -s give the same isolation for a probe.
		cmd = exec.CommandContext(ctx, resolved, "-E", "-s", "-c", probe)
	}
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	out, err := cmd.Output()
	if err != nil && strings.Contains(string(errOutput(err)), "-I") {
		cmd = exec.CommandContext(ctx, resolved, "-E", "-s", "-c", probe)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
		out, err = cmd.Output()
	}
	if err != nil {
		return Interpreter{}, fmt.Errorf("interpreter %s did not answer the probe: %w: %s", path, err, errOutput(err))
	}
	var info struct {
		Prefix, Executable, Version, Implementation, ABI, Setuptools, Wheel string
		Lib2to3                                                             bool
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return Interpreter{}, fmt.Errorf("interpreter %s: unreadable probe output: %w", path, err)
	}
	parts := strings.Split(info.Version, ".")
	if len(parts) < 2 {
		return Interpreter{}, fmt.Errorf("interpreter %s: odd version %q", path, info.Version)
	}
	prefix, err := filepath.EvalSymlinks(info.Prefix)
	if err != nil {
		return Interpreter{}, fmt.Errorf("interpreter %s: prefix: %w", path, err)
	}
	// A wrapper script (a shim, a launcher) cannot run in a sandbox that
	// mounts only the interpreter's prefix: keep the executable it ran.
	exe := resolved
	if info.Executable != "" {
		if p, err := filepath.EvalSymlinks(info.Executable); err == nil {
			exe = p
		}
	}
	return Interpreter{
		Path:           exe,
		Prefix:         prefix,
		Version:        info.Version,
		Minor:          parts[0] + "." + parts[1],
		Implementation: info.Implementation,
		ABI:            info.ABI,
		Setuptools:     info.Setuptools,
		Wheel:          info.Wheel,
		Lib2to3:        info.Lib2to3,
	}, nil
}

func errOutput(err error) []byte {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.Stderr
	}
	return nil
}

// DiscoverOptions says where to look for interpreters.
type DiscoverOptions struct {
	// PyenvRoot is pyenv's root; empty means $PYENV_ROOT, else ~/.pyenv.
	PyenvRoot string
	// Paths are further interpreter executables to consider (a config list).
	Paths []string
	// PathDirs are folders searched for python2.N and python3.N (the
	// commands pass $PATH's). A folder named "shims" (pyenv's, asdf's) is
	// skipped: pyenv's versions are found directly, and a shim for a
	// version its manager does not select only fails.
	PathDirs []string
	// AllPatches keeps every patch release instead of the newest per minor.
	AllPatches bool
}

// versionedPython matches the names the PATH search takes: python2.7,
// python3.12, not python3 (an alias of one of them) nor python3.12-config.
var versionedPython = regexp.MustCompile(`^python[23]\.[0-9]+$`)

// Discover finds interpreters under pyenv's versions folder, in
// opts.Paths and on opts.PathDirs, resolves symlinks and wrapper scripts
// (to the executable the interpreter reports), removes duplicates, and keeps
// the newest patch release of each minor version (unless AllPatches).
// The result is ordered oldest minor first. Unusable candidates are
// skipped; an error is returned only when none is found.
func Discover(ctx context.Context, opts DiscoverOptions) ([]Interpreter, []error) {
	root := opts.PyenvRoot
	if root == "" {
		root = os.Getenv("PYENV_ROOT")
	}
	if root == "" {
		if home, err := os.UserHomeDir(); err == nil {
			root = filepath.Join(home, ".pyenv")
		}
	}
	var candidates []string
	if root != "" {
		dirs, _ := filepath.Glob(filepath.Join(root, "versions", "*"))
		for _, d := range dirs {
			// pyenv versions hold python3 or python2 (and python); take the
			// most specific name that exists.
			for _, name := range []string{"python3", "python2", "python"} {
				p := filepath.Join(d, "bin", name)
				if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
					candidates = append(candidates, p)
					break
				}
			}
		}
	}
	candidates = append(candidates, opts.Paths...)
	for _, dir := range opts.PathDirs {
		if dir == "" || filepath.Base(dir) == "shims" {
			continue
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if versionedPython.MatchString(e.Name()) {
				candidates = append(candidates, filepath.Join(dir, e.Name()))
			}
		}
	}

	var found []Interpreter
	var problems []error
	seen := map[string]bool{}
	var reals []string
	for _, c := range candidates {
		real, err := filepath.EvalSymlinks(c)
		if err != nil {
			problems = append(problems, fmt.Errorf("interpreter %s: %w", c, err))
			continue
		}
		if seen[real] {
			continue
		}
		seen[real] = true
		reals = append(reals, real)
	}
	// Each is asked in a process of its own, a few at a time: one after
	// another, a machine's ten Pythons held a service's start for 2 s.
	type answer struct {
		in  Interpreter
		err error
	}
	answers := make([]answer, len(reals))
	var wg sync.WaitGroup
	slots := make(chan struct{}, 4)
	for i, real := range reals {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			in, err := Identify(ctx, real)
			answers[i] = answer{in, err}
		})
	}
	wg.Wait()
	for i, real := range reals {
		in, err := answers[i].in, answers[i].err
		if err != nil {
			problems = append(problems, err)
			continue
		}
		if in.Path != real { // a wrapper: its interpreter may be listed already
			if seen[in.Path] {
				continue
			}
			seen[in.Path] = true
		}
		found = append(found, in)
	}
	sort.Slice(found, func(i, j int) bool { return compareVersion(found[i].Version, found[j].Version) < 0 })
	if !opts.AllPatches {
		var newest []Interpreter
		for _, in := range found {
			if n := len(newest); n > 0 && newest[n-1].Minor == in.Minor {
				newest[n-1] = in // sorted ascending: the later one is newer
				continue
			}
			newest = append(newest, in)
		}
		found = newest
	}
	if len(found) == 0 {
		problems = append(problems, fmt.Errorf("no Python interpreter found (looked in %s/versions, %d configured paths and %d search folders)", root, len(opts.Paths), len(opts.PathDirs)))
	}
	return found, problems
}

// compareVersion compares dotted numeric versions ("3.9.18" < "3.10.1").
func compareVersion(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// SelectMinors keeps the interpreters whose minor version is listed (all
// when the list is empty); it reports which listed versions were not found.
func SelectMinors(ins []Interpreter, minors []string) ([]Interpreter, error) {
	if len(minors) == 0 {
		return ins, nil
	}
	want := map[string]bool{}
	for _, m := range minors {
		want[m] = true
	}
	var out []Interpreter
	for _, in := range ins {
		if want[in.Minor] {
			out = append(out, in)
			delete(want, in.Minor)
		}
	}
	if len(want) > 0 {
		var missing []string
		for m := range want {
			missing = append(missing, m)
		}
		sort.Strings(missing)
		return out, fmt.Errorf("no interpreter for Python %s", strings.Join(missing, ", "))
	}
	return out, nil
}
