// Package toolchain is the offline wheelhouse: the .whl files a job installs,
// with pip and --no-index, into fresh environments inside its sandbox, so
// that every interpreter can run setup.py, build a wheel and run tests
// without reaching the network and without a copied dist-packages folder.
//
// The wheels come only from this machine's registries: each interpreter's
// own ensurepip wheels (pip, and setuptools where the interpreter ships it)
// and Debian 11, 12 and 13 packages fetched with "apt-get download" through a
// private apt configuration under the cache directory (the host's apt setup
// is never touched), repacked as wheels. The wheelhouse is built once into a
// directory named by the hash of its inputs (the recipe and the ensurepip
// wheels) and reused from then on; toolchain.json in it records where every
// wheel came from and its sha256.
package toolchain

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Python is an interpreter the wheelhouse is built for.
type Python struct {
	Minor  string // "3.12"
	Prefix string // sys.prefix: its ensurepip wheels are under lib/pythonX.Y/ensurepip/_bundled
}

// Frontend values: how a job builds a wheel on an interpreter.
const (
	// FrontendPip is pip's PEP 517 front end ("pip wheel --use-pep517").
	FrontendPip = "pip"
	// FrontendSetupPy is "setup.py bdist_wheel", where the interpreter's pip
	// predates PEP 517 (2.7, 3.6).
	FrontendSetupPy = "setup.py"
)

// Runner values: the default test runner of a set.
const (
	RunnerPytest   = "pytest"
	RunnerUnittest = "unittest"
)

// Set is what a job on one interpreter installs.
type Set struct {
	Minor string `json:"minor"`
	// Pip is the wheel (a file name in Dir) that installs the others: it is
	// run straight from the wheel file ("python pip.whl/pip install").
	Pip string `json:"pip"`
	// Build are the wheels of the build environment (pip, setuptools, wheel
	// and their dependencies), in install order.
	Build []string `json:"build"`
	// Test are the wheels of the test environment besides the package's
	// own (the test runner and its dependencies); empty for unittest.
	Test []string `json:"test"`
	// Frontend517 are the wheels of the PEP 517 front end that builds sdists
	// of projects without a setup.py ("python -m build"); empty where
	// there is none (2.7, 3.6).
	Frontend517 []string `json:"frontend517,omitempty"`
	// Backends are the wheels of each build backend, with their
	// dependencies, by a label ("flit-core", "hatch-vcs", "flit-core
	// (Debian 13)"): candidates that a project's build requirements are
	// resolved over, never installed unless chosen. setuptools and wheel
	// are in Build.
	Backends map[string][]string `json:"backends,omitempty"`
	// Plugins are pytest plugins (with their dependencies besides what Test
	// has) that dependency resolution may choose; nothing installs them
	// unless a package requires them.
	Plugins []string `json:"plugins,omitempty"`
	// Runner is the default test runner: RunnerPytest or RunnerUnittest.
	Runner string `json:"runner"`
	// Frontend says how the wheel step builds: FrontendPip or FrontendSetupPy.
	Frontend string `json:"frontend"`
}

// Wheel is one file of the wheelhouse and where it came from.
type Wheel struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	Source string `json:"source"` // "ensurepip 3.11.7 ..." or "debian bookworm python3-wheel 0.38.4-2 (deb sha256 ...)"
}

// Wheelhouse is a built toolchain. Its zero value has no sets.
type Wheelhouse struct {
	// Dir holds the .whl files; jobs mount it read-only at its own path.
	Dir string `json:"-"`
	// Key is the hash of the inputs the wheelhouse was built from.
	Key    string         `json:"key"`
	Built  time.Time      `json:"built"`
	Wheels []Wheel        `json:"wheels"`
	Sets   map[string]Set `json:"sets"`
}

// For returns the set for a Python minor version, or an error saying why
// there is none (the step is then the machinery's "toolchain-missing").
func (w *Wheelhouse) For(minor string) (Set, error) {
	if w == nil {
		return Set{}, errors.New("no offline toolchain configured")
	}
	s, ok := w.Sets[minor]
	if !ok {
		return Set{}, fmt.Errorf("the offline toolchain has no wheels for Python %s", minor)
	}
	return s, nil
}

// Hashes returns the sha256 of each wheel of a set, by file name: the
// toolchain part of a cell's provenance.
func (w *Wheelhouse) Hashes(s Set) map[string]string {
	by := map[string]string{}
	for _, wh := range w.Wheels {
		by[wh.File] = wh.SHA256
	}
	out := map[string]string{}
	for _, f := range s.Files() {
		out[f] = by[f]
	}
	return out
}

// Options configure Ensure.
type Options struct {
	// CacheDir holds wheelhouses by key and the private apt state; default
	// DefaultCacheDir().
	CacheDir string
	// Pythons are the interpreters to build for.
	Pythons []Python
	// Logger receives progress; default slog.Default().
	Logger *slog.Logger
	// Progress, when set, is told of a build's progress as each of its
	// parts (a Debian package and what it depends on, repacked as
	// wheels) is done, from 0 of Total to Total of Total.
	Progress func(Progress)
}

// Progress is how far a toolchain build is.
type Progress struct {
	Done, Total int
	Elapsed     time.Duration
	// Part is what was just done ("trixie python3-pytest").
	Part string
}

// Left estimates the time the build still takes, from the pace so far
// (0 before the first part is done: no pace yet). Parts repacked once
// serve every later recipe, so it tends to overstate.
func (p Progress) Left() time.Duration {
	if p.Done == 0 || p.Done >= p.Total {
		return 0
	}
	return p.Elapsed / time.Duration(p.Done) * time.Duration(p.Total-p.Done)
}

// DefaultCacheDir is $XDG_CACHE_HOME/pysmoke/toolchain, else
// ~/.cache/pysmoke/toolchain.
func DefaultCacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "pysmoke", "toolchain")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".cache", "pysmoke", "toolchain")
	}
	return filepath.Join(os.TempDir(), "pysmoke-toolchain")
}

// manifestName is the file that marks a finished wheelhouse.
const manifestName = "toolchain.json"

// Open reads a finished wheelhouse directory.
func Open(dir string) (*Wheelhouse, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, fmt.Errorf("toolchain %s: %w", dir, err)
	}
	var w Wheelhouse
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("toolchain %s: %w", dir, err)
	}
	w.Dir = filepath.Join(dir, "wheels")
	return &w, nil
}

// Ensure returns the wheelhouse for opts.Pythons, building it when the
// cache has none for these inputs. Concurrent callers (several test
// binaries) wait on a lock in the cache directory; one builds.
func Ensure(ctx context.Context, opts Options) (*Wheelhouse, error) {
	if opts.CacheDir == "" {
		opts.CacheDir = DefaultCacheDir()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return nil, err
	}
	inputs, err := gatherInputs(opts.Pythons)
	if err != nil {
		return nil, err
	}
	key := inputs.key()
	dir := filepath.Join(opts.CacheDir, "wheelhouse-"+key[:16])
	if w, err := Open(dir); err == nil {
		return w, nil
	}
	unlock, err := lock(ctx, filepath.Join(opts.CacheDir, ".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if w, err := Open(dir); err == nil { // built while we waited
		return w, nil
	}
	start := time.Now()
	opts.Logger.Info("building the offline toolchain", "dir", dir)
	tmp, err := os.MkdirTemp(opts.CacheDir, "building-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	w, err := build(ctx, opts, inputs, key, tmp)
	if err != nil {
		return nil, fmt.Errorf("building the offline toolchain: %w", err)
	}
	os.RemoveAll(dir) // an unfinished one (no manifest)
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	w.Dir = filepath.Join(dir, "wheels")
	opts.Logger.Info("built the offline toolchain", "dir", dir, "wheels", len(w.Wheels), "took", time.Since(start).Round(time.Millisecond))
	return w, nil
}

// inputs are what a wheelhouse is made from; their hash names it.
type inputs struct {
	Version int      `json:"version"` // of the repacking code: bump when the output changes
	Recipes []recipe `json:"recipes"`
	// Unvendored are the requirements added to repacked metadata.
	Unvendored map[string][]string `json:"unvendored"`
	Ensurepip  []ensurepipIn       `json:"ensurepip"`
	pythons    map[string]bool     // minors present
}

type ensurepipIn struct {
	Minor  string `json:"minor"`
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	path   string
}

const repackVersion = 3

func gatherInputs(pythons []Python) (inputs, error) {
	in := inputs{Version: repackVersion, Recipes: recipes, Unvendored: unvendored, pythons: map[string]bool{}}
	for _, py := range pythons {
		if in.pythons[py.Minor] {
			continue
		}
		in.pythons[py.Minor] = true
		files, _ := filepath.Glob(filepath.Join(py.Prefix, "lib", "python"+py.Minor, "ensurepip", "_bundled", "*.whl"))
		sort.Strings(files)
		for _, f := range files {
			sum, err := fileSHA256(f)
			if err != nil {
				return in, err
			}
			in.Ensurepip = append(in.Ensurepip, ensurepipIn{Minor: py.Minor, File: filepath.Base(f), SHA256: sum, path: f})
		}
	}
	sort.Slice(in.Ensurepip, func(i, j int) bool {
		a, b := in.Ensurepip[i], in.Ensurepip[j]
		if a.Minor != b.Minor {
			return a.Minor < b.Minor
		}
		return a.File < b.File
	})
	return in, nil
}

func (in inputs) key() string {
	b, _ := json.Marshal(in)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// lock takes an exclusive flock on path, polling so that ctx can end the
// wait.
func lock(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// wheelFileName splits "name-version-tags.whl" into its distribution name.
func wheelDist(file string) string {
	name, _, _ := strings.Cut(file, "-")
	return strings.ToLower(name)
}

// BuildTools names the set's setuptools and wheel with their versions
// ("setuptools 65.5.0, wheel 0.38.4"): what labels the differences
// between artifacts that come from the toolchain.
func (s Set) BuildTools() string {
	var out []string
	for _, f := range s.Build {
		parts := strings.Split(f, "-")
		if len(parts) > 1 && (parts[0] == "setuptools" || parts[0] == "wheel") {
			out = append(out, parts[0]+" "+parts[1])
		}
	}
	return strings.Join(out, ", ")
}
