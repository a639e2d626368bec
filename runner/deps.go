package runner

// A release's dependencies, resolved for the job's interpreter and
// installed with its wheel before the tests run.
//
// What is asked for is read from the wheel the job built (its METADATA's
// Requires-Dist, with the test extras "test", "tests" and "testing" where
// it provides them) and from plain requirement files in the sdist
// (requirements-test.txt and the like): reading a zip and text files on
// the host runs nothing of the package.
//
// Candidates come from two places: the index through the mirror
// (Options.Index, the index client in the service), and the offline toolchain's
// wheels for this interpreter (pytest and its plugins, setuptools). Their
// metadata is read without running anything, except for a dependency that
// exists only as an sdist: that one is built into a wheel inside the job's
// own sandbox, with the toolchain, as the wheel step builds the release,
// and its metadata is read from that wheel. The same wheel is then what
// gets installed, so an sdist is built once per job.
//
// The chosen files are put into the job's scratch (toolchain wheels are
// already mounted) and installed, every one by path, by pip with
// --no-index --no-deps: the resolution was ours, pip only unpacks.
// A requirement that cannot be met makes the tests step "dependency
// unavailable", naming it: the machinery's (not on the index, no file for
// this interpreter, an sdist that does not build) or, when the dependency
// itself declares it does not support this Python, "declared unsupported".
// Never a failure of the package.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/pysmoke/pysmoke/archive"
	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/resolver"
	"github.com/pysmoke/pysmoke/sandbox"
	"github.com/pysmoke/pysmoke/toolchain"
)

// DependencyIndex is what the runner needs of the index and the mirror to
// resolve dependencies: the resolver's view of the index (an sdist's
// Metadata may fail; the runner makes that metadata itself), and Fetch,
// which puts a chosen file into the mirror, verified by hash, and returns
// its host path. The service passes its index client.
type DependencyIndex interface {
	resolver.Index
	Fetch(ctx context.Context, c resolver.Candidate) (string, error)
}

// testExtras are the extras whose requirements the tests need.
var testExtras = []string{"test", "tests", "testing"}

// testRequirementFiles are the plain requirement files of tests, looked
// for at the top of the sdist and in its tests folder.
var testRequirementFiles = []string{
	"requirements-test.txt", "requirements_test.txt", "requirements-tests.txt", "requirements_tests.txt",
	"test-requirements.txt", "test_requirements.txt", "tests-requirements.txt",
	"requirements/test.txt", "requirements/tests.txt", "tests/requirements.txt",
}

// glibcMinor is the C library of the sandbox's /usr (Debian 12's 2.36, in
// both backends): the newest manylinux tag a wheel may carry.
const glibcMinor = 36

// toolchainScheme marks candidates that are wheels of the offline
// toolchain, so that they are taken from its mounted folder, not fetched.
const toolchainScheme = "toolchain:"

// depsDir is the scratch folder the chosen files are copied into, and
// depsSrc where sdists of dependencies are unpacked to be built.
const (
	depsDir = "deps"
	depsSrc = "deps-src"
)

// depBuild is a dependency sdist built in the job: the wheel, or why it
// did not build, and what building it printed (shown again by every step
// that uses it).
type depBuild struct {
	wheel string // relative to the scratch
	err   error
	log   []byte
}

// closure is a resolved and fetched set of dependencies.
type closure struct {
	reqs    []string // what was asked for (the release's own, the tests')
	pins    []resolver.Pin
	install []string // wheels to install: toolchain file names, or paths inside the sandbox
}

// jobIndex is the resolver's index for one job: the index through the
// mirror, plus the toolchain's wheels for the interpreter; an sdist's
// metadata is made by building it in the job's sandbox.
type jobIndex struct {
	base   DependencyIndex // nil: the toolchain only
	wheels string          // the toolchain's folder on the host (and in the sandbox)
	set    toolchain.Set
	hashes map[string]string // toolchain file -> sha256
	build  func(ctx context.Context, c resolver.Candidate, sdist string) (wheel string, err error)
	// wheelInfo reads a file of a built wheel's .dist-info (wheel is its
	// path relative to the scratch).
	wheelInfo func(wheel, name string, max int64) ([]byte, error)
	builds    map[string]*depBuild          // sdist sha256 -> its build in this job (not tried twice)
	log       *bytes.Buffer                 // the step's log, where a build's output goes
	seen      map[string]resolver.Candidate // sha256 -> a file the index listed, for its URL once pinned
	// toolchainOnly are the projects never taken from the index
	// (Options.ToolchainOnly).
	toolchainOnly []string
}

// toolchainFiles are every wheel of the set a dependency may be met by.
func (ix *jobIndex) toolchainFiles() []string { return dedupe(ix.set.Files()) }

func (ix *jobIndex) Files(ctx context.Context, project string) ([]resolver.Candidate, error) {
	var out []resolver.Candidate
	for _, f := range ix.toolchainFiles() {
		df, err := dist.ParseFilename(f)
		if err != nil || dist.Normalize(df.Name) != project {
			continue
		}
		out = append(out, resolver.Candidate{Project: project, Version: df.Version, Filename: f,
			URL: toolchainScheme + f, SHA256: ix.hashes[f]})
	}
	if ix.base == nil || slices.Contains(ix.toolchainOnly, project) {
		if len(out) == 0 {
			why := "no index configured"
			if ix.base != nil {
				why = "taken from the toolchain only, which has none"
			}
			return nil, fmt.Errorf("%s (%s): %w", project, why, resolver.ErrNoProject)
		}
		return out, nil
	}
	more, err := ix.base.Files(ctx, project)
	switch {
	case errors.Is(err, resolver.ErrNoProject) && len(out) > 0:
		return out, nil
	case err != nil:
		return nil, err
	}
	for _, c := range more {
		ix.seen[c.SHA256] = c
	}
	return append(out, more...), nil
}

func (ix *jobIndex) Metadata(ctx context.Context, c resolver.Candidate) (dist.Metadata, error) {
	if f, ok := strings.CutPrefix(c.URL, toolchainScheme); ok {
		raw, err := dist.WheelMetadata(filepath.Join(ix.wheels, f))
		if err != nil {
			return dist.Metadata{}, err
		}
		return dist.ParseMetadata(bytes.NewReader(raw))
	}
	df, err := dist.ParseFilename(c.Filename)
	if err != nil {
		return dist.Metadata{}, err
	}
	if df.Kind == dist.Wheel {
		return ix.base.Metadata(ctx, c)
	}
	// An sdist: its metadata is whatever its build says on this
	// interpreter, so it is built, in the sandbox.
	b, ok := ix.builds[c.SHA256]
	if ok {
		// Built by an earlier step of the job: how is this step's to
		// show too.
		ix.log.Write(b.log)
	} else {
		sdist, err := ix.base.Fetch(ctx, c)
		if err != nil {
			return dist.Metadata{}, err
		}
		from := ix.log.Len()
		whl, err := ix.build(ctx, c, sdist)
		var u resolver.Unmet
		if err != nil && !errors.As(err, &u) {
			return dist.Metadata{}, err // ctx ended, or the sandbox failed: not the sdist's to keep
		}
		b = &depBuild{wheel: whl, err: err, log: append([]byte(nil), ix.log.Bytes()[from:]...)}
		ix.builds[c.SHA256] = b
	}
	if b.err != nil {
		return dist.Metadata{}, b.err
	}
	raw, err := ix.wheelInfo(b.wheel, "METADATA", dist.MaxMetadataBytes)
	if err != nil {
		return dist.Metadata{}, resolver.Unmet{Requirement: c.Project, Reason: fmt.Sprintf("the wheel built from %s has no readable metadata: %v", c.Filename, err)}
	}
	return dist.ParseMetadata(bytes.NewReader(raw))
}

// requirementsOf returns what a release needs to run: its built wheel's
// requirements (metadata is that wheel's METADATA); for its tests (tests
// set) also what src, the test environment the project declares, asks
// for, with the extras of the release it names (the test extras when it
// declares none in particular); never the release itself.
func requirementsOf(metadata []byte, src testSource, project string, tests bool) (reqs, extras []string, err error) {
	m, err := dist.ParseMetadata(bytes.NewReader(metadata))
	if err != nil {
		return nil, nil, err
	}
	all := m.RequiresDist
	if !tests {
		return dedupe(withoutSelf(all, project)), nil, nil
	}
	want := testExtras
	if src.From != "" {
		want = src.Extras
	}
	for _, e := range m.ProvidesExtra {
		if slices.Contains(want, dist.Normalize(e)) {
			extras = append(extras, e)
		}
	}
	all = append(all, src.Requires...)
	return dedupe(withoutSelf(all, project)), extras, nil
}

// coverageProjects are the tools that measure coverage: tests run without
// them as well as with them.
var coverageProjects = map[string]bool{"coverage": true, "pytest-cov": true, "pytest-cover": true, "codecov": true, "coveralls": true, "python-coveralls": true}

// withoutCoverage drops the requirements on coverage tools.
func withoutCoverage(reqs []string) []string {
	var out []string
	for _, s := range reqs {
		if r, err := dist.ParseRequirement(s); err == nil && coverageProjects[r.Name] {
			continue
		}
		out = append(out, s)
	}
	return out
}

// withoutSelf drops the requirements on the release itself (a test
// requirements file naming the project, "app[test]").
func withoutSelf(reqs []string, project string) []string {
	self := dist.Normalize(project)
	var out []string
	for _, s := range reqs {
		if r, err := dist.ParseRequirement(s); err == nil && r.Name == self {
			continue
		}
		out = append(out, s)
	}
	return out
}

// testRequirements reads the requirements of the test requirement files
// of an unpacked sdist (before anything of it ran).
func testRequirements(projDir string) []string {
	var out []string
	for _, name := range testRequirementFiles {
		b, err := readCapped(filepath.Join(projDir, filepath.FromSlash(name)), 1<<20)
		if err != nil {
			continue
		}
		out = append(out, requirementLines(b)...)
	}
	return out
}

// requirementLines reads a pip requirements file's plain requirements;
// options (-r, -e, --index-url ...) and paths are not followed: a test
// requirement the index cannot give is not one the job can meet.
func requirementLines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "-") || strings.HasPrefix(line, ".") {
			continue
		}
		out = append(out, line)
	}
	return out
}

// readCapped reads a regular file (no links followed) of at most max bytes.
func readCapped(p string, max int64) ([]byte, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > max {
		return nil, fmt.Errorf("%s: not a small regular file", p)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}

// target describes the interpreter to the resolver.
func target(in interpreter.Interpreter) (resolver.Target, error) {
	parts := strings.SplitN(in.Version, ".", 3)
	if len(parts) < 2 {
		return resolver.Target{}, fmt.Errorf("interpreter version %q", in.Version)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return resolver.Target{}, fmt.Errorf("interpreter version %q", in.Version)
	}
	platform := "linux"
	if major == 2 {
		platform = "linux2"
	}
	env := dist.Environment{
		"python_version": in.Minor, "python_full_version": in.Version, "sys_platform": platform,
		"os_name": "posix", "platform_system": "Linux", "platform_machine": "x86_64",
		"platform_python_implementation": "CPython", "implementation_name": "cpython",
		"implementation_version": in.Version,
	}
	return resolver.Target{PythonVersion: in.Version, Env: env, AllowSdists: true,
		Tags: dist.CPythonTags(major, minor, glibcMinor, strings.Contains(strings.TrimPrefix(in.ABI, "cp"), "d"))}, nil
}

// resolve resolves and fetches the closure a release needs in the step
// named step: its runtime requirements, and with tests also what its
// tests ask for. It leaves the closure in j.closure, or returns the step's
// result instead when the closure cannot be had (its status says whose
// fault); the error is non-nil only when ctx ended.
func (j *job) resolve(ctx context.Context, step string, tests bool, log *bytes.Buffer) (*StepResult, error) {
	unavailable := func(status outcome.Status, detail string) (*StepResult, error) {
		return &StepResult{Status: status, Reason: outcome.ReasonDependencyUnavailable, Detail: detail, Log: []byte(detail)}, nil
	}
	j.closure = &closure{}
	if sr := j.tampered(depsDir, depsSrc); sr != nil {
		return sr, nil
	}
	meta, err := j.wheelInfo(j.builtWheel(), "METADATA", dist.MaxMetadataBytes)
	var reqs, extras []string
	if err == nil {
		reqs, extras, err = requirementsOf(meta, j.tests, j.spec.Project, tests)
	}
	if err != nil {
		return unavailable(outcome.Machinery, "cannot read the requirements of the built wheel: "+err.Error())
	}
	// The project's commands run pytest: where the toolchain has none
	// for this interpreter it is a requirement like any other (the index
	// may have one; pytest 4.6 is the last for 2.7).
	if tests && j.spec.TestCommand == nil && j.commandsUsePytest() && j.set.Runner != toolchain.RunnerPytest {
		reqs = appendNew(reqs, "pytest")
	}
	j.closure.reqs = reqs
	if len(reqs) == 0 {
		return nil, nil
	}
	cl, sr, err := j.closureFor(ctx, reqs, extras, closureOpts{dropCoverage: tests}, log)
	if cl != nil {
		j.closure = cl
	}
	return sr, err
}

// closureFor resolves reqs (with the release's extras) for the job's
// interpreter over the toolchain and the index, and fetches what it
// chose into the scratch: the closure, or the step's result instead when
// it cannot be had (its status says whose fault); the error is non-nil
// only when ctx ended.
func (j *job) closureFor(ctx context.Context, reqs, extras []string, o closureOpts, log *bytes.Buffer) (*closure, *StepResult, error) {
	unavailable := func(status outcome.Status, detail string) (*closure, *StepResult, error) {
		return nil, &StepResult{Status: status, Reason: outcome.ReasonDependencyUnavailable, Detail: detail, Log: []byte(detail)}, nil
	}
	r := j.r
	if r.opts.Toolchain == nil {
		return unavailable(outcome.Machinery, "no offline toolchain to build or install dependencies with")
	}
	t, err := target(j.in)
	if err != nil {
		return unavailable(outcome.Machinery, err.Error())
	}
	fmt.Fprintf(log, "pysmoke: resolving for Python %s: %s", j.in.Version, strings.Join(reqs, ", "))
	if len(extras) > 0 {
		fmt.Fprintf(log, " (extras: %s)", strings.Join(extras, ", "))
	}
	log.WriteString("\n")

	ix := &jobIndex{base: r.opts.Index, wheels: r.opts.Toolchain.Dir, set: j.set, hashes: r.opts.Toolchain.Hashes(j.set),
		builds: j.depBuilds, seen: map[string]resolver.Candidate{}, log: log, wheelInfo: j.wheelInfo, toolchainOnly: r.opts.ToolchainOnly}
	if o.toolchainOnly {
		ix.base = nil
	}
	ix.build = func(ctx context.Context, c resolver.Candidate, sdist string) (string, error) {
		return j.buildDependency(ctx, c, sdist, log)
	}
	res, err := resolver.Resolve(ctx, ix, reqs, extras, t)
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	if err != nil {
		return unavailable(outcome.Machinery, "resolving the dependencies failed: "+err.Error())
	}
	// Coverage measures the tests, it does not run them: when it cannot
	// be had, the tests run without it (and without its options, see
	// testCommand) rather than not at all.
	if u := res.Unmet; u != nil && o.dropCoverage && coverageProjects[dist.Normalize(u.Requirement)] {
		if rest := withoutCoverage(reqs); len(rest) < len(reqs) {
			fmt.Fprintf(log, "pysmoke: coverage cannot be installed (%s: %s): the tests run without it\n", u.Requirement, u.Reason)
			reqs = rest
			res, err = resolver.Resolve(ctx, ix, reqs, extras, t)
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			if err != nil {
				return unavailable(outcome.Machinery, "resolving the dependencies failed: "+err.Error())
			}
		}
	}
	if u := res.Unmet; u != nil {
		status := outcome.Machinery
		if u.DeclaredUnsupported {
			status = outcome.DeclaredUnsupported
		}
		return unavailable(status, fmt.Sprintf("dependency unavailable: %s: %s", u.Requirement, u.Reason))
	}

	cl := &closure{reqs: reqs, pins: res.Pins}
	// A dependency's build ran code in the scratch too.
	if sr := j.tampered(depsDir, depsSrc, "out"); sr != nil {
		return nil, sr, nil
	}
	if err := j.sc.MkdirAll(depsDir); err != nil {
		return unavailable(outcome.Machinery, err.Error())
	}
	for _, p := range res.Pins {
		fmt.Fprintf(log, "pysmoke: %s %s: %s (sha256 %s)\n", p.Project, p.Version, p.Filename, p.SHA256)
		if ix.isToolchain(p) {
			cl.install = append(cl.install, p.Filename)
			continue
		}
		// A wheel built in the scratch is copied within it, one from
		// the mirror into it: through its root both, never by path.
		var src func() (*os.File, error)
		var name string
		if b, ok := ix.builds[p.SHA256]; ok && b.err == nil {
			name = path.Base(b.wheel)
			src = func() (*os.File, error) { return j.sc.Root().Open(b.wheel) }
		} else {
			host, err := r.opts.Index.Fetch(ctx, ix.seen[p.SHA256])
			if err != nil {
				if ctx.Err() != nil {
					return nil, nil, ctx.Err()
				}
				return unavailable(outcome.Machinery, fmt.Sprintf("dependency unavailable: %s: %v", p.Project, err))
			}
			name = filepath.Base(host)
			src = func() (*os.File, error) { return os.Open(host) }
		}
		dst := depsDir + "/" + name
		// An earlier resolution of the job may have copied it.
		if _, err := j.sc.Root().Lstat(dst); err != nil {
			if err := copyInto(j.sc.Root(), dst, src); err != nil {
				return unavailable(outcome.Machinery, err.Error())
			}
		}
		cl.install = append(cl.install, path.Join(sandbox.BuildRoot, dst))
	}
	log.WriteString("\n")
	return cl, nil, nil
}

// closureOpts are how closureFor resolves.
type closureOpts struct {
	// dropCoverage leaves out coverage tools that cannot be had rather
	// than failing the closure (the tests run without them).
	dropCoverage bool
	// toolchainOnly resolves over the toolchain's wheels alone: the build
	// requirements of a dependency's sdist, which must not reach for
	// more sdists to build.
	toolchainOnly bool
}

func (ix *jobIndex) isToolchain(p resolver.Pin) bool {
	for _, f := range ix.toolchainFiles() {
		if f == p.Filename && ix.hashes[f] == p.SHA256 {
			return true
		}
	}
	return false
}

// buildDependency builds a dependency's sdist into a wheel in the job's
// sandbox, as the wheel step builds the release, and returns the wheel's
// host path. An sdist that does not build is an Unmet requirement.
func (j *job) buildDependency(ctx context.Context, c resolver.Candidate, sdist string, log *bytes.Buffer) (string, error) {
	set := j.set
	unmet := func(format string, args ...any) error {
		return resolver.Unmet{Requirement: c.Project, Reason: fmt.Sprintf(format, args...)}
	}
	// Unpacked through the scratch's root: the release's own code has run
	// in it, and deps-src could be a link it left.
	srcRel := depsSrc + "/" + c.SHA256[:16]
	if err := j.sc.MkdirAll(srcRel); err != nil {
		return "", err
	}
	src, err := j.sc.Root().OpenRoot(srcRel)
	if err != nil {
		return "", err
	}
	defer src.Close()
	if err := archive.UnpackInto(sdist, src, j.r.opts.Unpack); err != nil {
		return "", unmet("its sdist %s cannot be unpacked: %v", c.Filename, err)
	}
	proj, err := archive.ProjectDirIn(src)
	if err != nil {
		return "", unmet("its sdist %s: %v", c.Filename, err)
	}
	if err := j.sc.HandOver(srcRel); err != nil {
		return "", err
	}
	hasSetupPy := isRegular(src, path.Join(proj, "setup.py"))
	if set.Frontend == toolchain.FrontendSetupPy && !hasSetupPy {
		return "", unmet("its sdist %s has no setup.py, and no PEP 517 front end runs on this Python", c.Filename)
	}
	dir := path.Join(sandbox.BuildRoot, srcRel, filepath.ToSlash(proj))
	// Its build requirements, resolved over the toolchain alone (an
	// sdist's build does not reach for more sdists), in an environment of
	// its own.
	pyproject, _ := readIn(src, path.Join(proj, "pyproject.toml"), maxConfigBytes)
	bs := parseBuildSystem(pyproject)
	reqs := bs.Requires
	if reqs == nil {
		reqs = legacyBuildRequires
	}
	cl, why, err := j.closureFor(ctx, reqs, nil, closureOpts{toolchainOnly: true}, log)
	if err != nil {
		return "", err
	}
	if why != nil {
		return "", unmet("its sdist %s cannot be built here: %s", c.Filename, strings.TrimPrefix(why.Detail, "dependency unavailable: "))
	}
	wheels := buildWheels(set, cl, bs.Declared)
	kind := "deps-build-" + c.SHA256[:16]
	step := "deps-" + c.SHA256[:16]
	fmt.Fprintf(log, "pysmoke: building %s into a wheel in the sandbox\n", c.Filename)
	sr, err := j.withEnv(ctx, step, kind, wheels, func(e *environment) (StepResult, error) {
		if set.Frontend == toolchain.FrontendSetupPy {
			return j.exec(ctx, step, dir, e.env, e.python, "setup.py", "-q", "bdist_wheel", "--dist-dir", "{out}")
		}
		return j.exec(ctx, step, dir, e.env, e.python, "-m", "pip", "wheel", "--no-index", "--no-deps",
			"--no-build-isolation", "--use-pep517", "--no-cache-dir", "-q", "-w", "{out}", ".")
	})
	if err != nil {
		return "", err
	}
	log.Write(sr.Log)
	if sr.Status != outcome.Passed {
		return "", unmet("its sdist %s does not build on this Python (%s, %s)", c.Filename, sr.Status, sr.Reason)
	}
	built := j.wheelsIn("out/" + step)
	if len(built) != 1 {
		return "", unmet("building its sdist %s left %d wheels", c.Filename, len(built))
	}
	return built[0], nil
}

// copyInto copies what open opens to dst (a new file) in root.
func copyInto(root *os.Root, dst string, open func() (*os.File, error)) error {
	in, err := open()
	if err != nil {
		return err
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("copy to %s: not a regular file", dst)
	}
	return writeNew(root.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644))(in)
}

// writeNew takes a file just made (and its making's error) and returns
// what copies a reader into it and closes it.
func writeNew(out *os.File, err error) func(io.Reader) error {
	return func(in io.Reader) error {
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}
}

// isRegular reports whether name in root is a regular file (no link).
func isRegular(root *os.Root, name string) bool {
	fi, err := root.Lstat(name)
	return err == nil && fi.Mode().IsRegular()
}

// readIn reads a regular file of root of at most max bytes.
func readIn(root *os.Root, name string, max int64) ([]byte, error) {
	if !isRegular(root, name) {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}
