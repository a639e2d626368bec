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
	"strings"
	"time"
)

// Step names, in the order a job runs them.
const (
	StepUnpack = "unpack"
	StepSdist  = "sdist"
	StepBdist  = "bdist"
	StepTests  = "tests"
	Step2to3   = "2to3"
)

// Steps lists the step names in order.
var Steps = []string{StepUnpack, StepSdist, StepBdist, StepTests, Step2to3}

// Artifact is one file a step produced.
type Artifact struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
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
	Artifacts    []Artifact
}

// Result is the outcome of one job.
type Result struct {
	Status   Status // the most telling step status
	Reason   string // that step's reason
	Backend  string
	Started  time.Time
	Finished time.Time
	Steps    []StepResult
}

// Job is one release on one interpreter.
type Job struct {
	Project     string
	Version     string
	Sdist       string // host path of the verified sdist; its name keeps the extension
	Interpreter Interpreter
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
	res = Result{Backend: r.opts.Backend.Name(), Started: time.Now()}
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
	rel, _ := filepath.Rel(scratch, projDir)
	workdir := path.Join(BuildRoot, filepath.ToSlash(rel))
	hasSetupPy := fileExists(filepath.Join(projDir, "setup.py"))

	in := job.Interpreter
	sb, err := r.opts.Backend.Open(ctx, Spec{Scratch: scratch, ReadOnly: []string{in.Prefix}})
	if err != nil {
		for _, name := range Steps[1:] {
			res.Steps = append(res.Steps, machinery(name, ReasonSandbox, err.Error()))
		}
		return res, nil
	}
	defer sb.Close()

	env := r.env(in)
	exec := func(name string, argv ...string) (StepResult, error) {
		outDir := path.Join(BuildRoot, "out", name)
		if err := os.MkdirAll(filepath.Join(scratch, "out", name), 0o755); err != nil {
			return machinery(name, ReasonSandbox, err.Error()), nil
		}
		for i := range argv {
			argv[i] = strings.ReplaceAll(argv[i], "{out}", outDir)
		}
		er, err := sb.Exec(ctx, Command{Argv: argv, Dir: workdir, Env: env, Timeout: r.opts.StepTimeout, LogLimit: r.opts.LogLimit})
		if ctx.Err() != nil {
			return StepResult{}, ctx.Err()
		}
		sr := StepResult{Name: name, ExitCode: er.ExitCode, Duration: er.Duration, Log: er.Log, LogTruncated: er.LogTruncated}
		switch {
		case err != nil:
			sr.Status, sr.Reason, sr.Detail = Machinery, ReasonSandbox, err.Error()
		case er.TimedOut:
			sr.Status, sr.Reason, sr.Detail = ResourceLimit, ReasonTimeout, fmt.Sprintf("no result within %s", r.opts.StepTimeout)
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

	py := in.Path
	for _, step := range Steps[1:] {
		var sr StepResult
		var err error
		switch step {
		case StepSdist, StepBdist:
			switch {
			case !hasSetupPy:
				sr = machinery(step, ReasonNoSetupPy, "no setup.py; PEP 517 builds are not supported yet")
			case in.Setuptools == "":
				sr = machinery(step, ReasonToolchainMissing, "setuptools is not installed in Python "+in.Version)
			default:
				sr, err = exec(step, py, "setup.py", step, "--dist-dir", "{out}")
			}
		case StepTests:
			sr, err = exec(step, py, "-m", "unittest", "discover", "-v")
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
			sr, err = exec(step, "/bin/sh", "-c", script, py, "{out}")
		}
		if err != nil {
			return res, err
		}
		res.Steps = append(res.Steps, sr)
	}
	return res, nil
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
		"SOURCE_DATE_EPOCH=315532800", // 1980-01-01, the earliest a zip can say
		"PYTHONHASHSEED=0",
		"PYTHONNOUSERSITE=1",
		"PYTHONUNBUFFERED=1",
		"PYTHONIOENCODING=utf-8",
		"PIP_NO_INDEX=1",
		"PIP_DISABLE_PIP_VERSION_CHECK=1",
	}
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
		arts = append(arts, Artifact{Path: p, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
		return nil
	})
	sort.Slice(arts, func(i, j int) bool { return arts[i].Path < arts[j].Path })
	return arts, err
}
