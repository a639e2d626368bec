// Package runner runs one job, one release on one interpreter, in a sealed
// sandbox made fresh for it: it unpacks the sdist safely on the host, then
// runs the steps of a table (steps.go) one after another in the unpacked
// tree, each with its own output folder and log, and says of each step
// whether it passed, failed for the package's reasons, hit a limit, or
// could not run for the machinery's.
//
// The runner is the job orchestrator and nothing else: the sandbox is the
// sandbox package's, the vocabulary of results the outcome package's, the
// archives the archive package's, the interpreters the interpreter
// package's. It knows nothing of where jobs come from or where results go.
package runner

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/pysmoke/pysmoke/archive"
	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/resolver"
	"github.com/pysmoke/pysmoke/sandbox"
	"github.com/pysmoke/pysmoke/toolchain"
)

// StepResult is the outcome of one step.
type StepResult struct {
	Name         string
	Status       outcome.Status
	Reason       string
	Detail       string
	ExitCode     int
	Duration     time.Duration
	Log          []byte
	LogTruncated bool
	// MemoryPeak is the step's peak memory in bytes, when the backend can
	// tell (0 otherwise).
	MemoryPeak int64
	Artifacts  []outcome.Artifact
}

// Result is the outcome of one job.
type Result struct {
	Status   outcome.Status // the most telling step status
	Reason   string         // that step's reason
	Backend  string
	Started  time.Time
	Finished time.Time
	Steps    []StepResult
	// Provenance is what besides the release the outcome depends on.
	Provenance Provenance
	// Claims are what the release says of the Pythons it supports (its
	// PKG-INFO), read at unpacking.
	Claims outcome.Claims
	// TestSource says where the tests' environment was read from, e.g.
	// "tox.ini [testenv]" ("" when from the release's test extras and
	// test requirement files, or when no tests ran).
	TestSource string
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
	Interpreter interpreter.Interpreter
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
	// RunID names the run (the service's store's id; 0 for none). Steps
	// see it as PYSMOKE_RUN_ID: the one thing that differs between two
	// runs of a cell, so that a test can be flaky on purpose and still
	// deterministic (the samples' flaky one is).
	RunID int64
}

// Options configure a Runner. The zero value of each field means its default.
type Options struct {
	// Backend makes the sandboxes. Required.
	Backend sandbox.Backend
	// ScratchDir holds each job's scratch (and, as root, its filesystem
	// image) while it runs: a folder of the service's own, made mode 700,
	// never one other users share. Default DefaultScratchDir().
	ScratchDir string
	// Artifacts, when set, keeps every archive the steps produce (by its
	// SHA-256, the Artifact's) beyond the job, for diffs.
	Artifacts ArtifactKeeper
	// StepTimeout is each step's wall-clock limit; default 10 minutes.
	StepTimeout time.Duration
	// LogLimit caps each step's kept log; default the output a step may
	// print before it is ended (Limits.Output, 64 MiB by default), so
	// that the log is whole. A running step's log is held in memory
	// until the job's result is stored: up to that much per job.
	LogLimit int64
	// Unpack caps what an sdist may unpack to.
	Unpack archive.Limits
	// Limits cap each step's resources in the sandbox; zero fields take
	// sandbox.DefaultLimits.
	Limits sandbox.Limits
	// NoOutputTimeout ends a step that prints nothing for this long; zero
	// means none.
	NoOutputTimeout time.Duration
	// Index is where dependencies come from besides the toolchain (the
	// index client, through the mirror). Nil means the toolchain only: a
	// release needing anything else is "dependency unavailable".
	Index DependencyIndex
	// Toolchain is the offline wheelhouse the steps install setuptools,
	// wheel, pip and the test runner from, into fresh environments inside
	// the sandbox; it is mounted read-only. Nil means none: every step that
	// needs it is the machinery's "toolchain-missing".
	Toolchain *toolchain.Wheelhouse
	// ToolchainOnly names projects (normalised) that every resolution of
	// a job takes from the toolchain alone, whatever the index offers: an
	// experiment compares two toolchains' setuptools, and a newer one on
	// the index would otherwise be chosen on both sides.
	ToolchainOnly []string
	// Logger receives progress; default slog.Default().
	Logger *slog.Logger
}

// DefaultScratchDir is the user's cache folder's pysmoke/scratch
// ($XDG_CACHE_HOME, else ~/.cache), beside the offline toolchain: on the
// disk the user keeps pysmoke's data on, and private to the user.
func DefaultScratchDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "pysmoke", "scratch")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".cache", "pysmoke", "scratch")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("pysmoke-scratch-%d", os.Getuid()))
}

// Runner runs jobs. Safe for concurrent use.
type Runner struct {
	opts Options
	tpl  *templates // nil without a toolchain
}

// New returns a Runner.
func New(opts Options) *Runner {
	if opts.ScratchDir == "" {
		opts.ScratchDir = DefaultScratchDir()
	}
	if opts.StepTimeout == 0 {
		opts.StepTimeout = 10 * time.Minute
	}
	if opts.LogLimit == 0 {
		opts.LogLimit = opts.Limits.Output
		if opts.LogLimit == 0 {
			opts.LogLimit = sandbox.DefaultLimits.Output
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	r := &Runner{opts: opts}
	if opts.Toolchain != nil {
		r.tpl = &templates{r: r, dir: templateStore(opts.Toolchain.Dir), made: map[string]*templateMaking{}}
	}
	return r
}

// Backend returns the backend's name.
func (r *Runner) Backend() string { return r.opts.Backend.Name() }

// timeout is the wall-clock limit of one step of the job.
func (r *Runner) timeout(job Job, step string) time.Duration {
	if d := job.Timeouts[step]; d > 0 {
		return d
	}
	return r.opts.StepTimeout
}
