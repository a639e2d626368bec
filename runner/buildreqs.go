package runner

// A release's build requirements, provided the way pip's build isolation
// provides them, before any build step runs (the legacy "setup.py sdist"
// and "setup.py bdist" too):
//
//  1. what the project declares, read on the host before anything of it
//     runs: its pyproject.toml's build-system.requires (pip's default,
//     setuptools and wheel, when it declares none) and its setup.cfg's
//     [options] setup_requires;
//  2. resolved for the job's interpreter like any dependency (deps.go):
//     over the toolchain and the index, version ranges and markers
//     checked, chosen files fetched and installed offline into the build
//     environment;
//  3. then the backend is asked what more it needs, by its own
//     get_requires_for_build_sdist and get_requires_for_build_wheel
//     hooks, run inside the sandbox in that environment (for setuptools
//     these run setup.py, and return its setup_requires); anything new is
//     resolved with the rest, and the build steps run in the environment
//     of the whole set.
//
// A requirement that cannot be met makes every build step
// "dependency-unavailable" naming it: the machinery's gap (grey), or
// "declared-unsupported" when every candidate declares it does not run on
// this Python. Never "needs-network": that stays for a build that reaches
// for the network when everything it declared was installed.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/toolchain"
)

// buildSystem is what a pyproject.toml's [build-system] declares.
type buildSystem struct {
	// Declared: the file has a [build-system] table.
	Declared bool
	// Requires are its requires as written (PEP 508 requirements); nil
	// when it gives none.
	Requires []string
	// Backend is its build-backend ("module:object"); "" for pip's
	// default, setuptools' legacy backend.
	Backend string
	// BackendPath are the in-tree folders the backend is imported from.
	BackendPath []string
}

// legacyBuildRequires are what pip installs for a project that declares
// no build requirements. Unversioned: 3.6's own setuptools (40.6) is
// older than pip's "setuptools>=40.8.0", and builds such projects well.
var legacyBuildRequires = []string{"setuptools", "wheel"}

// buildRequiresStep names the job's call of the backend's
// get_requires_for_build_* hooks (its output folder, its log lines).
const buildRequiresStep = "build-requires"

// maxHookRequires caps what the hooks may add.
const maxHookRequires = 200

var buildSystemHeader = regexp.MustCompile(`(?m)^\s*\[\s*build-system\s*\]`)

// parseBuildSystem reads a pyproject.toml's [build-system]. A file that is
// not TOML has no readable requirements; when it has a [build-system]
// header it still declares one (the PEP 517 front end then says what is
// wrong with it, in the build step's log: the package's fault).
func parseBuildSystem(b []byte) buildSystem {
	if len(b) > maxConfigBytes {
		return buildSystem{}
	}
	var doc map[string]any
	if _, err := toml.Decode(string(b), &doc); err != nil {
		return buildSystem{Declared: buildSystemHeader.Match(b)}
	}
	t, ok := doc["build-system"].(map[string]any)
	if !ok {
		return buildSystem{}
	}
	bs := buildSystem{Declared: true, BackendPath: stringsOf(t["backend-path"])}
	if _, ok := t["requires"].([]any); ok {
		bs.Requires = []string{}
		for _, r := range stringsOf(t["requires"]) {
			if r = strings.TrimSpace(r); r != "" {
				bs.Requires = append(bs.Requires, r)
			}
		}
	}
	bs.Backend, _ = t["build-backend"].(string)
	bs.Backend = strings.TrimSpace(bs.Backend)
	return bs
}

// setupRequires reads setup.cfg's [options] setup_requires: one
// requirement a line, or several separated by ";" on one (setuptools'
// list-semi), comments dropped.
func setupRequires(b []byte) []string {
	if len(b) > maxConfigBytes {
		return nil
	}
	cfg, err := loadConfigINI(b)
	if err != nil {
		return nil
	}
	sec, err := cfg.GetSection("options")
	if err != nil || !sec.HasKey("setup_requires") {
		return nil
	}
	v := sec.Key("setup_requires").String()
	var out []string
	for _, line := range strings.Split(v, "\n") {
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// "a; b" on one line is two requirements, unless what follows
		// the ";" is a marker ("a; python_version < '3'").
		if _, err := dist.ParseRequirement(line); err != nil && !strings.Contains(v, "\n") {
			for _, part := range strings.Split(line, ";") {
				out = append(out, strings.TrimSpace(part))
			}
			continue
		}
		out = append(out, line)
	}
	return requirementsOnly(out...)
}

// declaredBuildRequires are the release's static build requirements for
// the job, and where they were read.
func (j *job) declaredBuildRequires() (reqs []string, from string) {
	if j.buildSystem.Requires != nil {
		reqs, from = j.buildSystem.Requires, "pyproject.toml [build-system] requires"
	} else {
		reqs, from = legacyBuildRequires, "pip's default (the project declares no build-system.requires)"
	}
	if len(j.setupRequires) > 0 {
		reqs = appendNew(append([]string(nil), reqs...), j.setupRequires...)
		from += " and setup.cfg [options] setup_requires"
	}
	return reqs, from
}

// buildPrep is what preparing the build environment left: the result
// every build step takes instead of running (nil when they run), or the
// environment they run in.
type buildPrep struct {
	failed *StepResult
	kind   string
	wheels []string
	pins   []string // the closure installed, "project version" each: a backend hook asking for no more keeps the environment
}

// prepareBuild provides the build requirements, once per job; each build
// step calls it before running.
func (j *job) prepareBuild(ctx context.Context, log *bytes.Buffer) (*StepResult, error) {
	if j.buildPrep != nil {
		if f := j.buildPrep.failed; f != nil {
			sr := *f
			sr.Log = []byte(f.Detail)
			return &sr, nil
		}
		return nil, nil
	}
	if j.setErr != nil {
		return nil, nil // the step's environment says so
	}
	p, err := j.provideBuildRequires(ctx, log)
	if err != nil {
		return nil, err
	}
	j.buildPrep = p
	if p.failed != nil {
		sr := *p.failed
		sr.Log = append(append([]byte(nil), log.Bytes()...), p.failed.Detail...)
		log.Reset()
		return &sr, nil
	}
	return nil, nil
}

func (j *job) provideBuildRequires(ctx context.Context, log *bytes.Buffer) (*buildPrep, error) {
	failed := func(sr *StepResult) (*buildPrep, error) {
		f := *sr
		f.Detail = "build requirement unavailable: " + strings.TrimPrefix(f.Detail, "dependency unavailable: ")
		return &buildPrep{failed: &f}, nil
	}
	reqs, from := j.declaredBuildRequires()
	fmt.Fprintf(log, "pysmoke: build requirements from %s\n", from)
	cl, sr, err := j.closureFor(ctx, reqs, nil, closureOpts{}, log)
	if err != nil {
		return nil, err
	}
	if sr != nil {
		return failed(sr)
	}
	p := &buildPrep{kind: "build", wheels: buildWheels(j.set, cl, j.hasBuildSystem)}
	p.pins = pinNames(cl)

	more, ok, err := j.askBackend(ctx, p, log)
	if err != nil || !ok {
		return p, err
	}
	var added []string
	for _, r := range more {
		if !slices.Contains(reqs, r) {
			added = append(added, r)
		}
	}
	if len(added) == 0 {
		return p, nil
	}
	fmt.Fprintf(log, "pysmoke: the backend also asks for: %s\n", strings.Join(added, ", "))
	cl2, sr, err := j.closureFor(ctx, append(append([]string(nil), reqs...), added...), nil, closureOpts{}, log)
	if err != nil {
		return nil, err
	}
	if sr != nil {
		return failed(sr)
	}
	if slices.Equal(pinNames(cl2), p.pins) {
		return p, nil // what it asked for was there already
	}
	return &buildPrep{kind: "build-all", wheels: buildWheels(j.set, cl2, j.hasBuildSystem), pins: pinNames(cl2)}, nil
}

func pinNames(cl *closure) []string {
	var out []string
	for _, p := range cl.pins {
		out = append(out, p.Project+" "+p.Version)
	}
	return out
}

// buildWheels are a build environment's wheels for a closure of build
// requirements: the closure, then the toolchain's setuptools and wheel
// (setup.py is run directly on every Python) and, for a project with a
// [build-system] (pep517), its PEP 517 front end, less the projects the
// closure pins (two wheels of one project cannot be installed).
func buildWheels(set toolchain.Set, cl *closure, pep517 bool) []string {
	pinned := map[string]bool{}
	for _, p := range cl.pins {
		pinned[p.Project] = true
	}
	wheels := append([]string(nil), cl.install...)
	tool := set.Build
	if pep517 {
		tool = append(append([]string(nil), tool...), set.Frontend517...)
	}
	for _, w := range tool {
		if df, err := dist.ParseFilename(w); err == nil && pinned[dist.Normalize(df.Name)] && !slices.Contains(cl.install, w) {
			continue
		}
		wheels = append(wheels, w)
	}
	return dedupe(wheels)
}

// askBackend calls the backend's get_requires_for_build_sdist and
// get_requires_for_build_wheel hooks in the build environment p, inside
// the sandbox, and returns what they ask for. ok is false when they could
// not be asked or failed: the build steps then run with what was declared,
// and meet the same failure themselves (the package's, if it is).
func (j *job) askBackend(ctx context.Context, p *buildPrep, log *bytes.Buffer) (reqs []string, ok bool, err error) {
	if !j.hasSetupPy && !j.hasBuildSystem {
		return nil, false, nil // nothing to build
	}
	if j.set.Frontend == toolchain.FrontendSetupPy && !j.hasSetupPy {
		return nil, false, nil // no PEP 517 front end here: nothing builds
	}
	paths, _ := json.Marshal(append([]string{}, j.buildSystem.BackendPath...))
	log.WriteString("pysmoke: asking the build backend what else it needs (get_requires_for_build_sdist, get_requires_for_build_wheel)\n")
	e, err := j.envs.get(ctx, p.kind, p.wheels)
	if err != nil {
		return nil, false, err
	}
	if e.failed != "" {
		// The build steps meet the same environment and say so.
		return nil, false, nil
	}
	sr, err := j.exec(ctx, buildRequiresStep, j.workdir, e.env, e.python, "-c", hooksScript, j.buildSystem.Backend, string(paths), "{out}/requires.json")
	if err != nil {
		return nil, false, err
	}
	if len(e.log) > 0 && !e.logShown {
		e.logShown = true
		log.Write(e.log)
	}
	log.Write(sr.Log)
	if sr.Status != outcome.Passed {
		fmt.Fprintf(log, "pysmoke: the backend's hooks ended %s (%s); building with the declared requirements\n", sr.Status, sr.Reason)
		return nil, false, nil
	}
	if t := j.tampered("out", "out/"+buildRequiresStep); t != nil {
		log.WriteString("pysmoke: " + t.Detail + "\n")
		return nil, false, nil
	}
	b, err := readIn(j.sc.Root(), "out/"+buildRequiresStep+"/requires.json", 1<<16)
	if err != nil {
		fmt.Fprintf(log, "pysmoke: the backend's hooks left no answer (%v); building with the declared requirements\n", err)
		return nil, false, nil
	}
	reqs, err = parseHookAnswer(b)
	if err != nil {
		fmt.Fprintf(log, "pysmoke: the backend's answer is unusable (%v); building with the declared requirements\n", err)
		return nil, false, nil
	}
	return reqs, true, nil
}

// parseHookAnswer reads what hooksScript wrote: {"sdist": [...], "wheel":
// [...]}. It was written by package code: it is checked, and capped.
func parseHookAnswer(b []byte) ([]string, error) {
	var ans map[string][]string
	if err := json.Unmarshal(b, &ans); err != nil {
		return nil, err
	}
	var out []string
	for _, kind := range []string{"sdist", "wheel"} {
		for _, r := range ans[kind] {
			r = strings.TrimSpace(r)
			if _, err := dist.ParseRequirement(r); err != nil {
				return nil, fmt.Errorf("%q is no requirement: %w", r, err)
			}
			out = appendNew(out, r)
		}
	}
	if len(out) > maxHookRequires {
		return nil, fmt.Errorf("%d requirements (at most %d)", len(out), maxHookRequires)
	}
	return out, nil
}

// hooksScript asks a PEP 517 backend (argv[1], "" for setuptools' legacy
// backend; argv[2] its backend-path as JSON) for its get_requires_for_build
// hooks' answers and writes them as JSON to argv[3]. It runs on Python 2.7
// too, and with 3.6's setuptools 40.6, which has build_meta but not its
// __legacy__ (the difference, the project folder on sys.path, holds for
// "python -c" anyway).
const hooksScript = `import json, os, sys
backend, paths, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
for p in reversed(paths):
    sys.path.insert(0, os.path.abspath(p))
if backend:
    mod, _, obj = backend.partition(":")
    mod = mod.strip()
    __import__(mod)
    hooks = sys.modules[mod]
    for a in obj.split(".") if obj.strip() else []:
        hooks = getattr(hooks, a.strip())
else:
    import setuptools.build_meta as hooks
    hooks = getattr(hooks, "__legacy__", hooks)
answer = {}
for kind in ("sdist", "wheel"):
    hook = getattr(hooks, "get_requires_for_build_" + kind, None)
    answer[kind] = [str(r) for r in hook({})] if hook else []
    print("pysmoke: get_requires_for_build_%s: %s" % (kind, ", ".join(answer[kind]) or "nothing"))
with open(out, "w") as f:
    json.dump(answer, f)
`
