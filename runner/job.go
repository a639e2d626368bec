// Package runner runs one job, one release on one interpreter, in a sealed
// sandbox made fresh for it: it unpacks the sdist safely, runs the steps one
// after another in the unpacked tree, each with its own output folder and
// log, and says of each step whether it passed, failed for the package's
// reasons, hit a limit, or could not run for the machinery's.
package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/resolver"
	"github.com/pysmoke/pysmoke/toolchain"
)

// Step names, in the order a job runs them.
const (
	StepUnpack = "unpack"
	StepSdist  = "sdist"
	StepBdist  = "bdist"
	StepWheel  = "wheel"
	StepTests  = "tests"
	Step2to3   = "2to3"
)

// Steps lists the step names in order.
var Steps = []string{StepUnpack, StepSdist, StepBdist, StepWheel, StepTests, Step2to3}

// Artifact is one file a step produced.
type Artifact struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Members lists every member of an archive (sdist, bdist, wheel), the
	// manifest that two builds are compared by: an archive's own bytes
	// carry timestamps, its members' contents should not differ.
	Members []Member `json:"members,omitempty"`
	// MembersError says why an archive's members could not be listed.
	MembersError string `json:"members_error,omitempty"`
}

// StepResult is the outcome of one step.
type StepResult struct {
	Name         string
	Status       Status
	Reason       string
	Detail       string
	ExitCode     int
	Duration     time.Duration
	Log          []byte
	LogTruncated bool
	// MemoryPeak is the step's peak memory in bytes, when the backend can
	// tell (0 otherwise).
	MemoryPeak int64
	Artifacts  []Artifact
}

// Result is the outcome of one job.
type Result struct {
	Status   Status // the most telling step status
	Reason   string // that step's reason
	Backend  string
	Started  time.Time
	Finished time.Time
	Steps    []StepResult
	// Provenance is what besides the release the outcome depends on.
	Provenance Provenance
	// Dependencies are the files installed with the release for its tests
	// (deps.go): name, version, file and sha256 of each; empty when it
	// needs none or they could not be resolved.
	Dependencies []resolver.Pin
}

// Job is one release on one interpreter.
type Job struct {
	Project     string
	Version     string
	Sdist       string // host path of the verified sdist; its name keeps the extension
	Interpreter Interpreter
	// TestCommand is the project's test command from the allowlist, as
	// words, run from the copied tests in the test environment; a first
	// word "python" is that environment's interpreter. Nil means the
	// default: pytest when the toolchain has it, else unittest discovery.
	TestCommand []string
	// IgnoreRequiresPython runs the steps even where the release's
	// Requires-Python excludes the interpreter (otherwise they are
	// DeclaredUnsupported).
	IgnoreRequiresPython bool
	// WheelDir, when set, receives a copy of the wheel the wheel step
	// built: how a release's wheels for each interpreter are published to
	// a local index (a C extension's, for the samples that depend on one).
	WheelDir string
	// Timeouts are the project's own wall-clock limits per step (keys are
	// step names); a step not listed has the runner's StepTimeout.
	Timeouts map[string]time.Duration
}

// timeout is the wall-clock limit of one step of the job.
func (r *Runner) timeout(job Job, step string) time.Duration {
	if d := job.Timeouts[step]; d > 0 {
		return d
	}
	return r.opts.StepTimeout
}

// Options configure a Runner. The zero value of each field means its default.
type Options struct {
	// Backend makes the sandboxes. Required.
	Backend Backend
	// ScratchDir holds each job's scratch directory while it runs; default
	// os.TempDir().
	ScratchDir string
	// StepTimeout is each step's wall-clock limit; default 10 minutes.
	StepTimeout time.Duration
	// LogLimit caps each step's kept log; default 1 MiB.
	LogLimit int64
	// Unpack caps what an sdist may unpack to.
	Unpack UnpackLimits
	// Limits cap each step's resources in the sandbox; zero fields take
	// DefaultLimits.
	Limits Limits
	// NoOutputTimeout ends a step that prints nothing for this long; zero
	// means none.
	NoOutputTimeout time.Duration
	// Index is where dependencies come from besides the toolchain (the
	// crawler, through the mirror). Nil means the toolchain only: a
	// release needing anything else is "dependency unavailable".
	Index DependencyIndex
	// Toolchain is the offline wheelhouse the steps install setuptools,
	// wheel, pip and the test runner from, into fresh environments inside
	// the sandbox; it is mounted read-only. Nil means none: every step that
	// needs it is the machinery's "toolchain-missing".
	Toolchain *toolchain.Wheelhouse
	// Logger receives progress; default slog.Default().
	Logger *slog.Logger
}

// Runner runs jobs. Safe for concurrent use.
type Runner struct {
	opts Options
}

// New returns a Runner.
func New(opts Options) *Runner {
	if opts.ScratchDir == "" {
		opts.ScratchDir = os.TempDir()
	}
	if opts.StepTimeout == 0 {
		opts.StepTimeout = 10 * time.Minute
	}
	if opts.LogLimit == 0 {
		opts.LogLimit = 1 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Runner{opts: opts}
}

// Backend returns the backend's name.
func (r *Runner) Backend() string { return r.opts.Backend.Name() }

// Run runs a job. Every outcome, the machinery's failures included, is in
// the Result; the error is non-nil only when ctx ended, so that the job is
// tried again later instead of recorded half done.
func (r *Runner) Run(ctx context.Context, job Job) (res Result, err error) {
	res = Result{Backend: r.opts.Backend.Name(), Started: time.Now(), Provenance: r.Provenance(job.Interpreter)}
	defer func() {
		res.Finished = time.Now()
		var sts []Status
		for _, s := range res.Steps {
			sts = append(sts, s.Status)
		}
		res.Status = Worst(sts...)
		for _, s := range res.Steps {
			if s.Status == res.Status {
				res.Reason = s.Reason
				break
			}
		}
	}()
	if err := os.MkdirAll(r.opts.ScratchDir, 0o700); err != nil {
		res.Steps = append(res.Steps, machinery(StepUnpack, ReasonSandbox, fmt.Sprintf("scratch: %v", err)))
		return res, nil
	}
	scratch, err := os.MkdirTemp(r.opts.ScratchDir, "job-")
	if err != nil {
		res.Steps = append(res.Steps, machinery(StepUnpack, ReasonSandbox, fmt.Sprintf("scratch: %v", err)))
		return res, nil
	}
	defer func() {
		if err := os.RemoveAll(scratch); err != nil {
			r.opts.Logger.Error("remove scratch", "dir", scratch, "err", err)
		}
	}()
	for _, d := range []string{"src", "home", "out"} {
		if err := os.Mkdir(filepath.Join(scratch, d), 0o755); err != nil {
			res.Steps = append(res.Steps, machinery(StepUnpack, ReasonSandbox, fmt.Sprintf("scratch: %v", err)))
			return res, nil
		}
	}

	// 1. unpack, on the host, before anything of the sdist runs.
	start := time.Now()
	src := filepath.Join(scratch, "src")
	err = Unpack(job.Sdist, src, r.opts.Unpack)
	var projDir string
	if err == nil {
		projDir, err = ProjectDir(src)
	}
	unpack := StepResult{Name: StepUnpack, Status: Passed, Duration: time.Since(start)}
	switch {
	case errors.Is(err, ErrRejected):
		unpack.Status, unpack.Reason, unpack.Detail = Rejected, ReasonBadSdist, err.Error()
	case err != nil:
		unpack.Status, unpack.Reason, unpack.Detail = Machinery, ReasonSandbox, err.Error()
	}
	unpack.Log = []byte(unpack.Detail)
	res.Steps = append(res.Steps, unpack)
	if unpack.Status != Passed {
		return res, nil
	}
	// Unpacking leaves the sdist's files with the time of the unpacking;
	// pin them to SOURCE_DATE_EPOCH, or Python 2's byte code (which records
	// its source's mtime) differs between two builds of one release.
	if err := pinTimes(src, sourceDateEpoch); err != nil {
		r.opts.Logger.Warn("pin source times", "err", err)
	}
	rel, _ := filepath.Rel(scratch, projDir)
	workdir := path.Join(BuildRoot, filepath.ToSlash(rel))
	hasSetupPy := fileExists(filepath.Join(projDir, "setup.py"))

	in := job.Interpreter
	if rp := requiresPython(projDir); rp != "" && !job.IgnoreRequiresPython {
		if ok, err := allowsPython(rp, in.Version); err == nil && !ok {
			d := fmt.Sprintf("Requires-Python %q excludes Python %s; not run (it can be run on request)", rp, in.Version)
			for _, name := range Steps[1:] {
				res.Steps = append(res.Steps, StepResult{Name: name, Status: DeclaredUnsupported, Reason: ReasonRequiresPython, Detail: d, Log: []byte(d)})
			}
			return res, nil
		}
	}
	readOnly := []string{in.Prefix}
	if r.opts.Toolchain != nil {
		readOnly = append(readOnly, r.opts.Toolchain.Dir)
	}
	sb, err := r.opts.Backend.Open(ctx, Spec{Scratch: scratch, ReadOnly: readOnly, Limits: r.opts.Limits})
	if err != nil {
		for _, name := range Steps[1:] {
			res.Steps = append(res.Steps, machinery(name, ReasonSandbox, err.Error()))
		}
		return res, nil
	}
	defer sb.Close()

	env := r.env(in)
	execIn := func(name, dir string, env []string, argv ...string) (StepResult, error) {
		outDir := path.Join(BuildRoot, "out", name)
		if err := os.MkdirAll(filepath.Join(scratch, "out", name), 0o755); err != nil {
			return machinery(name, ReasonSandbox, err.Error()), nil
		}
		for i := range argv {
			argv[i] = strings.ReplaceAll(argv[i], "{out}", outDir)
		}
		limit := r.timeout(job, name)
		er, err := sb.Exec(ctx, Command{Argv: argv, Dir: dir, Env: env, Timeout: limit, LogLimit: r.opts.LogLimit, NoOutputTimeout: r.opts.NoOutputTimeout})
		if ctx.Err() != nil {
			return StepResult{}, ctx.Err()
		}
		sr := StepResult{Name: name, ExitCode: er.ExitCode, Duration: er.Duration, Log: er.Log, LogTruncated: er.LogTruncated, MemoryPeak: er.MemoryPeak}
		switch {
		case err != nil:
			sr.Status, sr.Reason, sr.Detail = Machinery, ReasonSandbox, err.Error()
		case er.TimedOut || (er.LimitHit != "" && er.ExitCode != 0):
			sr.Status, sr.Reason, sr.Detail = limitOutcome(er, limit)
		default:
			sr.Status, sr.Reason, sr.Detail = classify(name, er.ExitCode, er.Log, in)
		}
		arts, err := collect(filepath.Join(scratch, "out", name))
		if err != nil {
			r.opts.Logger.Warn("collect artifacts", "step", name, "err", err)
		}
		sr.Artifacts = arts
		return sr, nil
	}

	exec := func(name string, argv ...string) (StepResult, error) {
		return execIn(name, workdir, env, argv...)
	}
	envs := &environments{sb: sb, in: in, base: env, logLimit: r.opts.LogLimit, timeout: r.opts.StepTimeout, made: map[string]*environment{}}
	set, setErr := r.opts.Toolchain.For(in.Minor)
	if setErr == nil {
		envs.wheels = r.opts.Toolchain.Dir
		envs.set = set
	}
	// withEnv runs a step in an environment, made on first use; the
	// environment's own log leads the step's.
	withEnv := func(step, kind string, wheels []string, run func(e *environment) (StepResult, error)) (StepResult, error) {
		if setErr != nil {
			return machinery(step, ReasonToolchainMissing, setErr.Error()), nil
		}
		e, err := envs.get(ctx, kind, wheels)
		if err != nil {
			return StepResult{}, err
		}
		if e.failed != "" {
			sr := machinery(step, ReasonToolchainMissing, e.failed)
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

	// The build environment: setuptools and wheel, and for a project with
	// a pyproject.toml the PEP 517 front end and the backends it requires.
	buildWheels := set.Build
	reqs, hasBuildSystem := buildRequires(projDir)
	var missingBackend string
	if hasBuildSystem {
		buildWheels = append(append([]string(nil), buildWheels...), set.Frontend517...)
		for _, req := range reqs {
			if req == "setuptools" || req == "wheel" {
				continue
			}
			ws, ok := set.Backends[req]
			if !ok {
				missingBackend = req
				continue
			}
			buildWheels = append(buildWheels, ws...)
		}
	}
	buildWheels = dedupe(buildWheels)

	for _, step := range Steps[1:] {
		var sr StepResult
		var err error
		switch {
		case setErr == nil && len(set.Frontend517) > 0 && missingBackend != "" && step != Step2to3 && step != StepTests:
			sr = machinery(step, ReasonToolchainMissing, fmt.Sprintf("the build requirement %s is not in the offline toolchain for Python %s", missingBackend, in.Minor))
			res.Steps = append(res.Steps, sr)
			continue
		}
		switch step {
		case StepSdist:
			switch {
			case hasSetupPy:
				sr, err = withEnv(step, "build", buildWheels, func(e *environment) (StepResult, error) {
					return execIn(step, workdir, e.env, e.python, "setup.py", "sdist", "--dist-dir", "{out}")
				})
			case !hasBuildSystem:
				sr = StepResult{Name: step, Status: NotAvailable, Reason: ReasonNoSetupPy, Detail: "neither setup.py nor a [build-system] in pyproject.toml"}
			case setErr == nil && len(set.Frontend517) == 0:
				sr = StepResult{Name: step, Status: NotAvailable, Reason: ReasonNoFrontend, Detail: "no PEP 517 front end runs on Python " + in.Minor}
			default:
				sr, err = withEnv(step, "build", buildWheels, func(e *environment) (StepResult, error) {
					return execIn(step, workdir, e.env, e.python, "-m", "build", "--sdist", "--no-isolation", "--skip-dependency-check", "--outdir", "{out}", ".")
				})
			}
		case StepBdist:
			if !hasSetupPy {
				sr = StepResult{Name: step, Status: NotAvailable, Reason: ReasonNoSetupPy, Detail: "no setup.py to run bdist with (the wheel step builds through PEP 517)"}
				break
			}
			sr, err = withEnv(step, "build", buildWheels, func(e *environment) (StepResult, error) {
				return execIn(step, workdir, e.env, e.python, "setup.py", "bdist", "--dist-dir", "{out}")
			})
		case StepWheel:
			switch {
			case setErr == nil && set.Frontend == toolchain.FrontendSetupPy && !hasSetupPy:
				sr = StepResult{Name: step, Status: NotAvailable, Reason: ReasonNoFrontend, Detail: "no setup.py, and no PEP 517 front end runs on Python " + in.Minor}
			case !hasSetupPy && !hasBuildSystem:
				sr = StepResult{Name: step, Status: NotAvailable, Reason: ReasonNoSetupPy, Detail: "neither setup.py nor a [build-system] in pyproject.toml"}
			default:
				sr, err = withEnv(step, "build", buildWheels, func(e *environment) (StepResult, error) {
					if set.Frontend == toolchain.FrontendSetupPy {
						return execIn(step, workdir, e.env, e.python, "setup.py", "bdist_wheel", "--dist-dir", "{out}")
					}
					return execIn(step, workdir, e.env, e.python, "-m", "pip", "wheel", "--no-index", "--no-deps",
						"--no-build-isolation", "--use-pep517", "--no-cache-dir", "-w", "{out}", ".")
				})
			}
		case StepTests:
			sr, err = r.tests(ctx, res.Steps, scratch, projDir, job, set, envs, withEnv, execIn, &res.Dependencies)
		case Step2to3:
			if !in.Lib2to3 {
				sr = StepResult{Name: step, Status: NotAvailable, Reason: ReasonNoLib2to3, Detail: "Python " + in.Version + " has no lib2to3"}
				break
			}
			// Convert into the step's folder with this interpreter's own
			// lib2to3; on Python 3, byte-compile the result to prove it.
			script := `"$0" -m lib2to3 --output-dir="$1" --write-unchanged-files --nobackups --write . || exit $?`
			if !strings.HasPrefix(in.Minor, "2.") {
				script += `; echo "pysmoke: byte-compiling the converted tree"; "$0" -m compileall -q "$1"`
			}
			sr, err = exec(step, "/bin/sh", "-c", script, in.Path, "{out}")
		}
		if err != nil {
			return res, err
		}
		res.Steps = append(res.Steps, sr)
		if step == StepWheel && sr.Status == Passed && job.WheelDir != "" {
			if err := keepWheels(filepath.Join(scratch, "out", StepWheel), job.WheelDir); err != nil {
				r.opts.Logger.Warn("keep the built wheel", "dir", job.WheelDir, "err", err)
			}
		}
	}
	return res, nil
}

// keepWheels copies the .whl files of dir into dst (created if missing).
func keepWheels(dir, dst string) error {
	built, err := filepath.Glob(filepath.Join(dir, "*.whl"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, w := range built {
		if err := copyFile(w, filepath.Join(dst, filepath.Base(w))); err != nil {
			return fmt.Errorf("copy %s: %w", filepath.Base(w), err)
		}
	}
	return nil
}

// env is the whole environment of a step: an explicit allowlist with the
// things that make outputs vary pinned, and nothing of the service's own.
func (r *Runner) env(in Interpreter) []string {
	return []string{
		"PATH=" + path.Join(in.Prefix, "bin") + ":/usr/bin:/bin",
		"HOME=" + BuildRoot + "/home",
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

// pinTimes sets the times of every file and folder under dir to t,
// through os.Root so that no link leads outside.
func pinTimes(dir string, t time.Time) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
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
	return StepResult{Name: step, Status: Machinery, Reason: reason, Detail: detail, Log: []byte(detail)}
}

func fileExists(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

// Collection caps: outputs are attack surface too.
const (
	maxArtifacts     = 1000
	maxArtifactBytes = 1 << 30
)

// collect lists the regular files under dir with their sizes and hashes,
// without following links (through os.Root, which refuses escapes) and
// with count and size caps.
func collect(dir string) ([]Artifact, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var arts []Artifact
	var total int64
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if len(arts) >= maxArtifacts {
			return fmt.Errorf("more than %d output files", maxArtifacts)
		}
		f, err := root.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		total += fi.Size()
		if total > maxArtifactBytes {
			return fmt.Errorf("outputs larger than %d bytes", maxArtifactBytes)
		}
		h := sha256.New()
		n, err := io.Copy(h, io.LimitReader(f, fi.Size()))
		if err != nil {
			return err
		}
		art := Artifact{Path: p, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
		if isArchive(p) {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			art.Members, art.MembersError = archiveMembers(f, p, fi.Size())
		}
		arts = append(arts, art)
		return nil
	})
	sort.Slice(arts, func(i, j int) bool { return arts[i].Path < arts[j].Path })
	return arts, err
}
