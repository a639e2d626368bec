// Package experiment runs the same releases twice, with a baseline and
// with a candidate (another toolchain, or another build of an
// interpreter), and tells what the candidate changes: each pair of runs
// classified in crater's classes (package regression), every regression
// and fix confirmed by reruns before it is reported (one that does not
// reproduce ends spurious, shown as flaky), the regressions binned by
// their failure's signature, and a report as JSON and HTML.
//
// An experiment lives in a folder of its own: its spec, a journal of
// every run (one folder per run, written whole or not at all), the
// archives the steps built, and the report. Starting it again with the
// same folder goes on where it stopped: a run is done once its folder
// exists, so a stop, a crash or a reboot loses at most the runs under way.
//
// Data flows one way: the experiment hands jobs to a Runner (the runner
// package's, behind the interface it consumes) and reads the results; it
// knows nothing of the service, the queue or the store.
package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/regression"
	"github.com/pysmoke/pysmoke/runner"
)

// Side names.
const (
	Baseline  = "baseline"
	Candidate = "candidate"
)

// Release is one release an experiment runs.
type Release struct {
	Project string `json:"project"`
	Version string `json:"version"`
	// Sdist is the verified sdist on the host; SHA256 its digest.
	Sdist  string `json:"sdist"`
	SHA256 string `json:"sha256"`
	// TestCommand and Timeouts are the allowlist's settings for it.
	TestCommand []string                 `json:"test_command,omitempty"`
	Timeouts    map[string]time.Duration `json:"timeouts,omitempty"`
}

// Spec is what an experiment is: kept in its folder as spec.json, so that
// a start with the same folder goes on with the same experiment.
type Spec struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// Pythons are the minors it runs on ("3.8").
	Pythons  []string  `json:"pythons"`
	Releases []Release `json:"releases"`
	// Baseline and Candidate describe each side for people ("setuptools
	// 56.0.0, wheel 0.38.4"); the runners carry what they mean.
	Baseline  SideSpec `json:"baseline"`
	Candidate SideSpec `json:"candidate"`
	// Confirm is how many times a regression or a fix is rerun before it
	// is believed (0: never).
	Confirm int `json:"confirm"`
}

// SideSpec says what a side is.
type SideSpec struct {
	// Label is a short name ("setuptools 58.1.0").
	Label string `json:"label"`
	// Toolchain is the key of its offline wheelhouse; Wheels the
	// candidate's own wheels (file: sha256), Interpreter the path of the
	// candidate interpreter; each "" or empty where the side has the
	// machine's.
	Toolchain   string            `json:"toolchain"`
	Wheels      map[string]string `json:"wheels,omitempty"`
	Interpreter string            `json:"interpreter,omitempty"`
	// Tools names, per Python, its build tools ("setuptools 56.0.0,
	// wheel 0.38.4").
	Tools map[string]string `json:"tools,omitempty"`
}

// Runner runs one job: the runner package's Runner, or a fake in tests.
type Runner interface {
	Run(ctx context.Context, j runner.Job) (runner.Result, error)
}

// Side is a side as it runs: its runner and its interpreters by minor.
type Side struct {
	Runner       Runner
	Interpreters map[string]interpreter.Interpreter
}

// Options configure Run.
type Options struct {
	// Dir is the experiment's folder (made when missing).
	Dir string
	// Baseline and Candidate run the two sides. Required.
	Baseline, Candidate Side
	// Jobs is how many jobs run at once; default 1.
	Jobs int
	// Progress, when set, is told after each run.
	Progress func(Progress)
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Progress is how far an experiment is.
type Progress struct {
	Done, Total int
	// Last is the run that just ended.
	Last *Record
	// Elapsed is this start's time so far; Left an estimate of the rest
	// from this start's rate (0 before a run ended).
	Elapsed, Left time.Duration
}

// Remaining is how many runs remain.
func (p Progress) Remaining() int { return p.Total - p.Done }

// key names one run of an experiment.
type key struct {
	Side, Project, Version, Python string
	// Attempt is 0 for the first run, 1... for confirmation reruns.
	Attempt int
}

func (k key) String() string {
	return fmt.Sprintf("%s/%s/%s/%s/%d", k.Side, k.Project, k.Version, k.Python, k.Attempt)
}

// id is the run's id, which its steps see as PYSMOKE_RUN_ID: derived from
// what the run is (CRC-32 of side/project/version/python/attempt, as
// Python's zlib.crc32 computes it), so that a test flaky on purpose is
// flaky the same way in every experiment, and a rerun differs from the
// first run.
func (k key) id() int64 { return int64(crc32.ChecksumIEEE([]byte(k.String()))) + 1 }

// dir is the run's folder under the journal.
func (k key) dir(root string) string {
	return filepath.Join(root, "runs", k.Side, k.Project, k.Version, k.Python, strconv.Itoa(k.Attempt))
}

// Record is one run as the journal keeps it (run.json); its steps' logs are
// files beside it.
type Record struct {
	ID          int64          `json:"id"`
	Side        string         `json:"side"`
	Project     string         `json:"project"`
	Version     string         `json:"version"`
	Python      string         `json:"python"`
	Attempt     int            `json:"attempt"`
	Interpreter string         `json:"interpreter"`
	FullVersion string         `json:"full_version"`
	Backend     string         `json:"backend"`
	Toolchain   string         `json:"toolchain"`
	Status      outcome.Status `json:"status"`
	Reason      string         `json:"reason"`
	Started     time.Time      `json:"started"`
	Finished    time.Time      `json:"finished"`
	Steps       []Step         `json:"steps"`

	dir string // its folder, for the logs
}

// Step is one step of a run.
type Step struct {
	Name         string             `json:"name"`
	Status       outcome.Status     `json:"status"`
	Reason       string             `json:"reason,omitempty"`
	Detail       string             `json:"detail,omitempty"`
	ExitCode     int                `json:"exit_code"`
	DurationMS   int64              `json:"duration_ms"`
	LogTruncated bool               `json:"log_truncated,omitempty"`
	Artifacts    []outcome.Artifact `json:"artifacts,omitempty"`
}

// Log reads a step's log from the journal.
func (r *Record) Log(step string) ([]byte, error) {
	if !slices.ContainsFunc(r.Steps, func(s Step) bool { return s.Name == step }) {
		return nil, fs.ErrNotExist
	}
	return os.ReadFile(filepath.Join(r.dir, step+".log"))
}

// Same reports whether two runs have the same outcome (status and reason),
// as a confirmation compares them.
func (r *Record) Same(o *Record) bool { return r.Status == o.Status && r.Reason == o.Reason }

// regressionSteps are a run's steps as classification reads them;
// confirmed marks a resource limit that reruns reproduced.
func (r *Record) regressionSteps(confirmed bool) []regression.Step {
	out := make([]regression.Step, len(r.Steps))
	for i, s := range r.Steps {
		out[i] = regression.Step{Name: s.Name, Status: s.Status, Reason: s.Reason, Confirmed: confirmed}
	}
	return out
}

const specName = "spec.json"

// Create writes a new experiment's spec into dir, which must not hold
// one already (Load goes on with an existing one).
func Create(dir string, spec Spec) error {
	if spec.Name == "" || len(spec.Pythons) == 0 || len(spec.Releases) == 0 {
		return errors.New("experiment: a name, Pythons and releases are required")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("experiment %s: %w", spec.Name, err)
	}
	if _, err := os.Stat(filepath.Join(dir, specName)); err == nil {
		return fmt.Errorf("experiment %s: %s already holds one", spec.Name, dir)
	}
	if spec.Created.IsZero() {
		spec.Created = time.Now().UTC()
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, specName), b)
}

// Load reads the spec of the experiment in dir (fs.ErrNotExist when there
// is none).
func Load(dir string) (Spec, error) {
	var spec Spec
	b, err := os.ReadFile(filepath.Join(dir, specName))
	if err != nil {
		return spec, err
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		return spec, fmt.Errorf("experiment %s: %w", dir, err)
	}
	return spec, nil
}

// journal reads every run recorded in dir, by key.
func journal(dir string) (map[key]*Record, error) {
	runs := map[key]*Record{}
	root := filepath.Join(dir, "runs")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == root {
			return filepath.SkipDir
		}
		if err != nil || d.IsDir() || d.Name() != "run.json" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("journal %s: %w", p, err)
		}
		r.dir = filepath.Dir(p)
		runs[key{r.Side, r.Project, r.Version, r.Python, r.Attempt}] = &r
		return nil
	})
	return runs, err
}

// record writes a run into the journal: its folder is made beside it and
// renamed into place whole, so that a stop leaves the run done or absent.
func record(dir string, k key, job runner.Job, res runner.Result, toolchain string) (*Record, error) {
	final := k.dir(dir)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), ".writing-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	r := &Record{ID: k.id(), Side: k.Side, Project: k.Project, Version: k.Version, Python: k.Python, Attempt: k.Attempt,
		Interpreter: job.Interpreter.Path, FullVersion: job.Interpreter.Version, Backend: res.Backend, Toolchain: toolchain,
		Status: res.Status, Reason: res.Reason, Started: res.Started, Finished: res.Finished}
	for _, st := range res.Steps {
		if err := os.WriteFile(filepath.Join(tmp, st.Name+".log"), st.Log, 0o644); err != nil {
			return nil, err
		}
		r.Steps = append(r.Steps, Step{Name: st.Name, Status: st.Status, Reason: st.Reason, Detail: st.Detail,
			ExitCode: st.ExitCode, DurationMS: st.Duration.Milliseconds(), LogTruncated: st.LogTruncated, Artifacts: st.Artifacts})
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "run.json"), b, 0o644); err != nil {
		return nil, err
	}
	os.RemoveAll(final) // a run recorded twice (two processes): the later stands
	if err := os.Rename(tmp, final); err != nil {
		return nil, err
	}
	r.dir = final
	return r, nil
}

func writeAtomic(p string, b []byte) error {
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// Run runs the experiment in opts.Dir (Create wrote its spec) until every
// run it needs is in its journal: first each release on each Python on
// both sides, then the confirmation reruns of what looks regressed or
// fixed. It returns the report, also written to the folder as
// report.json and report.html. A run whose job fails for the machinery's
// own error (not a step's outcome) stops the experiment with that error:
// starting it again retries it.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Jobs < 1 {
		opts.Jobs = 1
	}
	spec, err := Load(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("experiment in %s: %w", opts.Dir, err)
	}
	sides := map[string]Side{Baseline: opts.Baseline, Candidate: opts.Candidate}
	for name, s := range sides {
		if s.Runner == nil {
			return nil, fmt.Errorf("experiment %s: no runner for the %s", spec.Name, name)
		}
		for _, py := range spec.Pythons {
			if _, ok := s.Interpreters[py]; !ok {
				return nil, fmt.Errorf("experiment %s: the %s has no Python %s", spec.Name, name, py)
			}
		}
	}
	runs, err := journal(opts.Dir)
	if err != nil {
		return nil, err
	}
	e := &engine{spec: spec, opts: opts, sides: sides, runs: runs, start: time.Now()}

	// First runs, each cell's two sides one after the other, so that a
	// stopped experiment has whole pairs.
	var first []key
	for _, rel := range spec.Releases {
		for _, py := range spec.Pythons {
			for _, side := range []string{Baseline, Candidate} {
				first = append(first, key{side, rel.Project, rel.Version, py, 0})
			}
		}
	}
	e.total = len(first)
	if err := e.runAll(ctx, first); err != nil {
		return nil, err
	}
	// Confirmations, until none is left to make: each rerun that
	// reproduces asks for the next.
	for {
		next := e.pendingConfirmations()
		if len(next) == 0 {
			break
		}
		if err := e.runAll(ctx, next); err != nil {
			return nil, err
		}
	}
	rep := e.report()
	if err := rep.Write(opts.Dir); err != nil {
		return rep, err
	}
	return rep, nil
}

type engine struct {
	spec  Spec
	opts  Options
	sides map[string]Side
	start time.Time

	mu          sync.Mutex
	runs        map[key]*Record
	total, done int // this start's
	ranHere     int
}

// runAll runs the keys not yet in the journal, opts.Jobs at once.
func (e *engine) runAll(ctx context.Context, keys []key) error {
	var todo []key
	e.mu.Lock()
	for _, k := range keys {
		if _, ok := e.runs[k]; ok {
			if k.Attempt == 0 {
				e.done++
			}
			continue
		}
		todo = append(todo, k)
	}
	if keys[0].Attempt > 0 {
		e.total += len(todo)
	}
	e.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, e.opts.Jobs)
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for _, k := range todo {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := e.runOne(ctx, k); err != nil {
				errOnce.Do(func() { firstErr = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func (e *engine) release(project, version string) Release {
	for _, r := range e.spec.Releases {
		if r.Project == project && r.Version == version {
			return r
		}
	}
	return Release{}
}

func (e *engine) runOne(ctx context.Context, k key) error {
	side := e.sides[k.Side]
	rel := e.release(k.Project, k.Version)
	job := runner.Job{Project: rel.Project, Version: rel.Version, Sdist: rel.Sdist, Interpreter: side.Interpreters[k.Python],
		TestCommand: rel.TestCommand, Timeouts: rel.Timeouts, RunID: k.id()}
	res, err := side.Runner.Run(ctx, job)
	if err != nil {
		return fmt.Errorf("experiment %s: %s: %w", e.spec.Name, k, err)
	}
	if ctx.Err() != nil {
		// Cut short by the stop: not an outcome of the release.
		return ctx.Err()
	}
	tc := e.spec.Baseline.Toolchain
	if k.Side == Candidate {
		tc = e.spec.Candidate.Toolchain
	}
	r, err := record(e.opts.Dir, k, job, res, tc)
	if err != nil {
		return fmt.Errorf("experiment %s: recording %s: %w", e.spec.Name, k, err)
	}
	e.mu.Lock()
	e.runs[k] = r
	e.done++
	e.ranHere++
	p := Progress{Done: e.done, Total: e.total, Last: r, Elapsed: time.Since(e.start)}
	if left := e.total - e.done; left > 0 && e.ranHere > 0 {
		p.Left = time.Duration(float64(p.Elapsed) / float64(e.ranHere) * float64(left))
	}
	e.mu.Unlock()
	e.opts.Logger.Debug("experiment run", "run", k.String(), "status", r.Status, "reason", r.Reason)
	if e.opts.Progress != nil {
		e.opts.Progress(p)
	}
	return nil
}

// pair is one release on one Python, both sides, with the reruns that
// confirm one side.
type pair struct {
	Release       Release
	Python        string
	Base, Cand    *Record
	ConfirmedSide string    // the side being confirmed, "" for none
	Reruns        []*Record // that side's, in order
}

// pairs returns every pair whose two first runs are in the journal.
func (e *engine) pairs() []*pair {
	var out []*pair
	for _, rel := range e.spec.Releases {
		for _, py := range e.spec.Pythons {
			b := e.runs[key{Baseline, rel.Project, rel.Version, py, 0}]
			c := e.runs[key{Candidate, rel.Project, rel.Version, py, 0}]
			if b == nil || c == nil {
				continue
			}
			p := &pair{Release: rel, Python: py, Base: b, Cand: c, ConfirmedSide: confirmSide(b, c)}
			if p.ConfirmedSide != "" {
				for a := 1; ; a++ {
					r := e.runs[key{p.ConfirmedSide, rel.Project, rel.Version, py, a}]
					if r == nil {
						break
					}
					p.Reruns = append(p.Reruns, r)
				}
			}
			out = append(out, p)
		}
	}
	return out
}

// confirmSide is the side whose outcome a pair's confirmation reruns: the
// failing side of what looks like a regression or a fix, or a side that
// hit a resource limit (which counts only once reproduced); "" when
// nothing changes between the sides that a rerun could tell apart.
func confirmSide(b, c *Record) string {
	v := regression.Classify(b.regressionSteps(true), c.regressionSteps(true))
	switch v.Class {
	case regression.Regressed:
		return Candidate
	case regression.Fixed:
		return Baseline
	}
	return ""
}

// settled reports whether a pair's confirmation is over: every rerun
// made, or one that did not reproduce the first outcome.
func (p *pair) settled(n int) bool {
	if p.ConfirmedSide == "" {
		return true
	}
	return len(p.Reruns) >= n || p.flaky()
}

// flaky reports whether a rerun did not reproduce the first outcome.
func (p *pair) flaky() bool {
	first := p.Base
	if p.ConfirmedSide == Candidate {
		first = p.Cand
	}
	for _, r := range p.Reruns {
		if !r.Same(first) {
			return true
		}
	}
	return false
}

// pendingConfirmations are the next reruns the pairs need.
func (e *engine) pendingConfirmations() []key {
	var out []key
	for _, p := range e.pairs() {
		if p.settled(e.spec.Confirm) {
			continue
		}
		out = append(out, key{p.ConfirmedSide, p.Release.Project, p.Release.Version, p.Python, len(p.Reruns) + 1})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// verdict classifies a pair once its confirmation is over: a change that
// a rerun did not reproduce is spurious.
func (p *pair) verdict() (regression.Verdict, string) {
	v := regression.Classify(p.Base.regressionSteps(false), p.Cand.regressionSteps(false))
	if p.ConfirmedSide == "" {
		return v, ""
	}
	if p.flaky() {
		flake := fmt.Sprintf("flaky: the %s's outcome (%s) did not reproduce on rerun %d of %d", p.ConfirmedSide,
			describe(p.firstOf()), firstDiffering(p)+1, len(p.Reruns))
		switch v.Class {
		case regression.Regressed:
			v.Class = regression.SpuriousRegressed
		case regression.Fixed:
			v.Class = regression.SpuriousFixed
		}
		return v, flake
	}
	// Reproduced every time: a resource limit counts as the package's.
	return regression.Classify(p.Base.regressionSteps(p.ConfirmedSide == Baseline), p.Cand.regressionSteps(p.ConfirmedSide == Candidate)), ""
}

func (p *pair) firstOf() *Record {
	if p.ConfirmedSide == Candidate {
		return p.Cand
	}
	return p.Base
}

func firstDiffering(p *pair) int {
	for i, r := range p.Reruns {
		if !r.Same(p.firstOf()) {
			return i
		}
	}
	return -1
}

func describe(r *Record) string {
	if r.Reason == "" {
		return string(r.Status)
	}
	return string(r.Status) + " " + r.Reason
}

// trimLines keeps the last n lines of s.
func trimLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
