package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/archive"
	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/resolver"
	"github.com/pysmoke/pysmoke/sandbox"
	"github.com/pysmoke/pysmoke/toolchain"
)

// job is the state of one job while its steps run: what every step reads,
// and what the steps before it left. The steps of the table (steps.go) are
// functions of it.
type job struct {
	r    *Runner
	spec Job
	in   interpreter.Interpreter
	// sc is the job's scratch. Once package code has run in it the host
	// reaches it only through sc.Root(), which never follows a link out
	// of it; what the steps need to know of the sdist itself is read at
	// unpacking, before anything of it runs.
	sc      *sandbox.Scratch
	projRel string // the unpacked project, relative to the scratch
	workdir string // the unpacked project inside the sandbox
	sb      sandbox.Sandbox
	env     []string // the plain step environment (stepEnv)
	envs    *environments

	// The offline toolchain's set for this interpreter, or why there is
	// none.
	set    toolchain.Set
	setErr error

	hasSetupPy     bool
	hasBuildSystem bool
	buildSystem    buildSystem // its pyproject.toml's [build-system]
	setupRequires  []string    // its setup.cfg's [options] setup_requires
	// buildPrep is the build environment, its requirements provided
	// (buildreqs.go) by the first build step that runs.
	buildPrep *buildPrep

	done []StepResult // the steps so far, in order

	// What the sdist holds, read at unpacking.
	requiresPython string           // its Requires-Python, or ""
	claims         outcome.Claims   // what it says of the Pythons it supports
	testCopies     []string         // what of it is copied to run the tests
	testsPackage   bool             // the first copy is a folder with an __init__.py
	tests          testSource       // the test environment it declares
	pytest         pytestConfig     // its pytest configuration
	testConfig     []string         // what the tests need beside them: pytest's configuration file, conftest.py
	commands       []projectCommand // the project's own test commands, mapped (nil: pysmoke's own)
	commandsWhy    string           // why the project's commands are not run, when it has some
	shipped        []string         // its packages and modules, by its layout (twotothree.go)

	// What the import and tests steps found before running.
	modules      []string // the built wheel's top-level modules
	shippedTests []string // the test packages it ships, when the sdist has no tests beside its code
	closure      *closure // the dependencies of the step being run

	// Dependency sdists built in this job, shared by every resolution of
	// it, so that an sdist is built (or fails to) once per job.
	depBuilds map[string]*depBuild // by the sdist's sha256
	pins      []resolver.Pin       // what the tests step installed
}

// Run runs a job. Every outcome, the machinery's failures included, is in
// the Result; the error is non-nil only when ctx ended, so that the job is
// tried again later instead of recorded half done.
func (r *Runner) Run(ctx context.Context, spec Job) (res Result, err error) {
	res = Result{Backend: r.opts.Backend.Name(), Started: time.Now(), Provenance: r.Provenance(spec.Interpreter)}
	defer func() {
		res.Finished = time.Now()
		sts := make([]outcome.Status, len(res.Steps))
		for i, s := range res.Steps {
			sts[i] = s.Status
		}
		res.Status = outcome.Worst(sts...)
		if i := outcome.Failing(res.Status, sts); i >= 0 {
			res.Reason = res.Steps[i].Reason
		}
	}()
	// every gives each step after unpacking the same result.
	every := func(sr StepResult) {
		for _, name := range outcome.Steps[1:] {
			sr.Name = name
			res.Steps = append(res.Steps, sr)
		}
	}
	sc, err := r.opts.Backend.NewScratch(r.opts.ScratchDir, r.opts.Limits)
	if err != nil {
		res.Steps = append(res.Steps, machinery(outcome.StepUnpack, outcome.ReasonSandbox, fmt.Sprintf("scratch: %v", err)))
		return res, nil
	}
	defer func() {
		if err := sc.Close(); err != nil {
			r.opts.Logger.Error("remove scratch", "dir", sc.Dir(), "err", err)
		}
	}()
	for _, d := range []string{"src", "home", "out"} {
		if err := sc.MkdirAll(d); err != nil {
			res.Steps = append(res.Steps, machinery(outcome.StepUnpack, outcome.ReasonSandbox, fmt.Sprintf("scratch: %v", err)))
			return res, nil
		}
	}

	// Unpacking, on the host, before anything of the sdist runs.
	j := &job{r: r, spec: spec, in: spec.Interpreter, sc: sc, depBuilds: map[string]*depBuild{}}
	unpack := j.unpack()
	res.Steps = append(res.Steps, unpack)
	if unpack.Status != outcome.Passed {
		return res, nil
	}
	res.Claims = j.claims
	if rp := j.requiresPython; rp != "" && !spec.IgnoreRequiresPython {
		if ok, err := allowsPython(rp, j.in.Version); err == nil && !ok {
			d := fmt.Sprintf("Requires-Python %q excludes Python %s; not run (it can be run on request)", rp, j.in.Version)
			every(StepResult{Status: outcome.DeclaredUnsupported, Reason: outcome.ReasonRequiresPython, Detail: d, Log: []byte(d)})
			return res, nil
		}
	}
	readOnly := []string{j.in.Prefix}
	if r.opts.Toolchain != nil {
		readOnly = append(readOnly, r.opts.Toolchain.Dir)
	}
	var tpl *templates
	if r.tpl != nil && os.MkdirAll(r.tpl.dir, 0o755) == nil {
		tpl = r.tpl
		readOnly = append(readOnly, tpl.dir)
	}
	j.sb, err = r.opts.Backend.Open(ctx, sandbox.Spec{Scratch: sc, ReadOnly: readOnly, Limits: r.opts.Limits})
	if err != nil {
		every(machinery("", outcome.ReasonSandbox, err.Error()))
		return res, nil
	}
	defer j.sb.Close()
	j.prepare()
	j.envs.templates = tpl

	for _, st := range steps {
		sr, err := j.run(ctx, st)
		if err != nil {
			return res, err
		}
		res.Steps = append(res.Steps, sr)
		j.done = res.Steps
		if st.after != nil {
			st.after(j, sr)
		}
	}
	res.Dependencies = j.pins
	if t := j.step(outcome.StepTests); t != nil && t.Status != outcome.NotAvailable && t.Status != outcome.DeclaredUnsupported {
		res.TestSource = j.tests.From
	}
	return res, nil
}

// unpack unpacks the sdist into the scratch's src folder, finds the
// project in it, and reads what the steps need to know of it, all before
// anything of it runs.
func (j *job) unpack() StepResult {
	start := time.Now()
	sr := StepResult{Name: outcome.StepUnpack, Status: outcome.Passed}
	src, err := j.sc.Root().OpenRoot("src")
	if err == nil {
		defer src.Close()
		err = archive.UnpackInto(j.spec.Sdist, src, j.r.opts.Unpack)
	}
	var proj string
	if err == nil {
		proj, err = archive.ProjectDirIn(src)
	}
	sr.Duration = time.Since(start)
	switch {
	case errors.Is(err, archive.ErrRejected):
		sr.Status, sr.Reason, sr.Detail = outcome.Rejected, outcome.ReasonBadSdist, err.Error()
	case err != nil:
		sr.Status, sr.Reason, sr.Detail = outcome.Machinery, outcome.ReasonSandbox, err.Error()
	}
	sr.Log = []byte(sr.Detail)
	if sr.Status != outcome.Passed {
		return sr
	}
	// Unpacking leaves the sdist's files with the time of the unpacking;
	// pin them to SOURCE_DATE_EPOCH, or Python 2's byte code (which records
	// its source's mtime) differs between two builds of one release.
	if err := pinTimes(src, sourceDateEpoch); err != nil {
		j.r.opts.Logger.Warn("pin source times", "err", err)
	}
	j.projRel = path.Join("src", filepath.ToSlash(proj))
	j.workdir = path.Join(sandbox.BuildRoot, j.projRel)
	projDir := filepath.Join(j.sc.Dir(), filepath.FromSlash(j.projRel))
	// Nothing of the sdist has run yet: its files are what it shipped.
	j.hasSetupPy = fileExists(filepath.Join(projDir, "setup.py"))
	j.claims = claims(projDir)
	j.requiresPython = j.claims.RequiresPython
	j.readTests(projDir)
	j.shipped = shippedSource(projDir)
	if b, err := readCapped(filepath.Join(projDir, "pyproject.toml"), maxConfigBytes); err == nil {
		j.buildSystem = parseBuildSystem(b)
	}
	j.hasBuildSystem = j.buildSystem.Declared
	if b, err := readCapped(filepath.Join(projDir, "setup.cfg"), maxConfigBytes); err == nil {
		j.setupRequires = setupRequires(b)
	}
	return sr
}

// prepare reads what every step needs to know of the toolchain and of the
// project's build system, once the sandbox is open.
func (j *job) prepare() {
	j.env = stepEnv(j.in, j.spec.RunID)
	j.envs = &environments{sb: j.sb, in: j.in, base: j.env, logLimit: j.r.opts.LogLimit, timeout: j.r.opts.StepTimeout, made: map[string]*environment{}}
	j.set, j.setErr = j.r.opts.Toolchain.For(j.in.Minor)
	if j.setErr == nil {
		j.envs.wheels = j.r.opts.Toolchain.Dir
		j.envs.set = j.set
	}
}

// run runs one step of the table: its applicability, what it prepares,
// its environment, its command, and the classification of how it ended.
func (j *job) run(ctx context.Context, st step) (StepResult, error) {
	if sr := j.tampered("out", "out/"+st.name); sr != nil {
		sr.Name = st.name
		return *sr, nil
	}
	if st.skip != nil {
		if sr := st.skip(j); sr != nil {
			sr.Name = st.name
			return *sr, nil
		}
	}
	var lead bytes.Buffer // what preparing the step printed, leading its log
	if st.prepare != nil {
		sr, err := st.prepare(ctx, j, &lead)
		if err != nil {
			return StepResult{}, err
		}
		if sr != nil {
			sr.Name = st.name
			sr.Log = append(append([]byte(nil), lead.Bytes()...), sr.Log...)
			return *sr, nil
		}
	}
	runIn := func(e *environment) (StepResult, error) {
		env := j.env
		if e != nil {
			env = e.env
		}
		if st.setup != nil {
			if sr, err := st.setup(ctx, j, e, env); err != nil || sr != nil {
				if sr != nil {
					sr.Name = st.name
					return *sr, err
				}
				return StepResult{}, err
			}
		}
		argv, dir := st.command(j, e)
		sr, err := j.exec(ctx, st.name, dir, env, argv...)
		if err == nil && st.classify != nil {
			st.classify(j, &sr)
		}
		return sr, err
	}
	var sr StepResult
	var err error
	if st.env == nil {
		sr, err = runIn(nil)
	} else {
		kind, wheels := st.env(j)
		sr, err = j.withEnv(ctx, st.name, kind, wheels, runIn)
	}
	if lead.Len() > 0 {
		sr.Log = append(lead.Bytes(), sr.Log...)
	}
	return sr, err
}

// exec runs one command of a step in the sandbox, with the step's output
// folder made ("{out}" in argv), and classifies how it ended: the machinery
// failed, a limit ended it, or its exit status and log say.
func (j *job) exec(ctx context.Context, name, dir string, env []string, argv ...string) (StepResult, error) {
	outDir := path.Join(sandbox.BuildRoot, "out", name)
	if sr := j.tampered("out", "out/"+name); sr != nil {
		sr.Name = name
		return *sr, nil
	}
	if err := j.sc.MkdirAll("out/" + name); err != nil {
		if j.sc.Full() {
			// The package filled its scratch: no room left for the step.
			d := "the scratch is full (the package filled it): no room for the step's output folder"
			return StepResult{Name: name, Status: outcome.ResourceLimit, Reason: outcome.ReasonDisk, Detail: d, Log: []byte(d)}, nil
		}
		return machinery(name, outcome.ReasonSandbox, err.Error()), nil
	}
	argv = append([]string(nil), argv...)
	for i := range argv {
		argv[i] = strings.ReplaceAll(argv[i], "{out}", outDir)
	}
	limit := j.r.timeout(j.spec, name)
	er, err := j.sb.Exec(ctx, sandbox.Command{Argv: argv, Dir: dir, Env: env, Timeout: limit, LogLimit: j.r.opts.LogLimit, NoOutputTimeout: j.r.opts.NoOutputTimeout})
	if ctx.Err() != nil {
		return StepResult{}, ctx.Err()
	}
	sr := StepResult{Name: name, ExitCode: er.ExitCode, Duration: er.Duration, Log: er.Log, LogTruncated: er.LogTruncated, MemoryPeak: er.MemoryPeak}
	switch {
	case err != nil:
		sr.Status, sr.Reason, sr.Detail = outcome.Machinery, outcome.ReasonSandbox, err.Error()
	case er.TimedOut || (er.LimitHit != "" && er.ExitCode != 0):
		sr.Status, sr.Reason, sr.Detail = limitOutcome(er, limit)
	default:
		sr.Status, sr.Reason, sr.Detail = classify(name, er.ExitCode, er.Log, j.in)
	}
	arts, err := collect(j.sc.Root(), "out/"+name, j.r.opts.Artifacts)
	if err != nil {
		j.r.opts.Logger.Warn("collect artifacts", "step", name, "err", err)
	}
	sr.Artifacts = arts
	return sr, nil
}

// withEnv runs a step in an environment, made on first use; the
// environment's own log leads the step's.
func (j *job) withEnv(ctx context.Context, name, kind string, wheels []string, run func(e *environment) (StepResult, error)) (StepResult, error) {
	if j.setErr != nil {
		return machinery(name, outcome.ReasonToolchainMissing, j.setErr.Error()), nil
	}
	e, err := j.envs.get(ctx, kind, wheels)
	if err != nil {
		return StepResult{}, err
	}
	if e.failed != "" {
		sr := machinery(name, outcome.ReasonToolchainMissing, e.failed)
		sr.Log = append([]byte(e.failed+"\n"), e.log...)
		return sr, nil
	}
	sr, err := run(e)
	if len(e.log) > 0 && !e.logShown {
		e.logShown = true
		sr.Log = append(append([]byte(nil), e.log...), sr.Log...)
	}
	return sr, err
}

// tampered checks that pysmoke's own folders of the scratch (those the
// host makes or reads into: the steps' output folders, the dependencies'
// folders) are folders, or are not there yet. Package code that made one
// a link (to /etc, say) or a file has tampered with the scratch: the
// host refuses to follow it in any case (the scratch's root never leaves
// it), and the step says whose doing it was.
func (j *job) tampered(names ...string) *StepResult {
	for _, n := range names {
		fi, err := j.sc.Root().Lstat(n)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			// A folder on the way is no folder: the same tampering.
			d := fmt.Sprintf("pysmoke's folder %s in the scratch cannot be reached: %v", n, err)
			return &StepResult{Status: outcome.Failed, Reason: outcome.ReasonTampered, Detail: d, Log: []byte(d)}
		case !fi.IsDir():
			d := fmt.Sprintf("the package made pysmoke's folder %s in the scratch a %s; nothing was followed through it", n, kindOf(fi.Mode()))
			return &StepResult{Status: outcome.Failed, Reason: outcome.ReasonTampered, Detail: d, Log: []byte(d)}
		}
	}
	return nil
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "link"
	case m.IsRegular():
		return "file"
	}
	return "special file"
}

// builtWheel returns the wheel the wheel step built (its path relative to
// the scratch), or "" when it left none.
func (j *job) builtWheel() string {
	wheels := j.wheelsIn("out/" + outcome.StepWheel)
	if len(wheels) == 0 {
		return ""
	}
	return wheels[0]
}

// wheelsIn lists the regular .whl files of a folder of the scratch (paths
// relative to the scratch, sorted), through its root: a step could have
// left links there.
func (j *job) wheelsIn(dir string) []string {
	d, err := j.sc.Root().Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close()
	ents, _ := d.ReadDir(-1)
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".whl") {
			out = append(out, dir+"/"+e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// wheelInfo reads a file of the .dist-info of a wheel in the scratch
// (its relative path), through the scratch's root.
func (j *job) wheelInfo(wheel, name string, max int64) ([]byte, error) {
	f, err := j.sc.Root().Open(wheel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return dist.WheelInfoFileOf(f, path.Base(wheel), name, max)
}

// step returns the result of an earlier step of the job, or nil.
func (j *job) step(name string) *StepResult {
	for i := range j.done {
		if j.done[i].Name == name {
			return &j.done[i]
		}
	}
	return nil
}

// stepEnv is the whole environment of a step of run runID (0 for none):
// an explicit allowlist with the things that make outputs vary pinned, and
// nothing of the service's own but the run's id (Job.RunID).
func stepEnv(in interpreter.Interpreter, runID int64) []string {
	return []string{
		"PYSMOKE_RUN_ID=" + strconv.FormatInt(runID, 10),
		"PATH=" + path.Join(in.Prefix, "bin") + ":/usr/bin:/bin",
		"HOME=" + sandbox.BuildRoot + "/home",
		"TMPDIR=/tmp",
		"LANG=C.UTF-8",
		"LC_ALL=C.UTF-8",
		"TZ=UTC",
		"SOURCE_DATE_EPOCH=" + strconv.FormatInt(sourceDateEpoch.Unix(), 10),
		"PYTHONHASHSEED=0",
		"PYTHONNOUSERSITE=1",
		"PYTHONUNBUFFERED=1",
		"PYTHONIOENCODING=utf-8",
		"PIP_NO_INDEX=1",
		"PIP_DISABLE_PIP_VERSION_CHECK=1",
	}
}

// sourceDateEpoch is 1980-01-01, the earliest a zip can say.
var sourceDateEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// pinTimes sets the times of every file and folder under root to t,
// through it so that no link leads outside.
func pinTimes(root *os.Root, t time.Time) error {
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		return root.Chtimes(p, t, t)
	})
}

func machinery(step, reason, detail string) StepResult {
	return StepResult{Name: step, Status: outcome.Machinery, Reason: reason, Detail: detail, Log: []byte(detail)}
}

func notAvailable(reason, detail string) *StepResult {
	return &StepResult{Status: outcome.NotAvailable, Reason: reason, Detail: detail}
}

func fileExists(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
