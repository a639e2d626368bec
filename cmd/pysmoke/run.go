package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/pysmoke/pysmoke/artifacts"
	"github.com/pysmoke/pysmoke/diff"
	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/index"
	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/resolver"
	"github.com/pysmoke/pysmoke/runner"
	"github.com/pysmoke/pysmoke/toolchain"
)

const runSynopsis = `Usage: pysmoke run [flags] SDIST

Runs the steps (unpack, sdist, bdist, wheel, import of the built wheel's
modules, tests against the built wheel, 2to3) of one sdist on every Python
of this machine, each in a fresh sealed
sandbox with its tools installed from the offline toolchain, and prints the
matrix. Its dependencies come from the offline toolchain and, with --index,
from that index (downloaded, verified, into --mirror).

Under the matrix, each cell that did not pass says why: the step that
gives the cell its status, its reason and detail, and the last lines of
its log (--tail). --logs writes every step's whole log, one file per step
per Python. --diff prints, for each build step and the tree 2to3
converted, what differs between the artifacts of consecutive Pythons
(after normalising what legitimately differs, and saying what was):
members missing or added, metadata field by field, unified diffs of
changed text members.

Exit status: 0 when every cell passed or did not apply; 1 when a cell failed
for the package's reasons (or hit a resource limit); 2 when only the
machinery failed (a toolchain missing, the sandbox) or on bad usage.`

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", runSynopsis, stderr)
	var st startup
	st.register(fs)
	asJSON := fs.Bool("json", false, "print the matrix as JSON")
	jobs := fs.Int("j", runtime.NumCPU(), "how many jobs run at once")
	timeout := fs.Duration("step-timeout", 10*time.Minute, "wall-clock limit of each step")
	indexURL := fs.String("index", "", "index the release's dependencies come from, e.g. https://pypi.org/ (default: the offline toolchain only)")
	mirror := fs.String("mirror", "", "where dependencies downloaded from --index are kept (default: a temporary folder)")
	logsDir := fs.String("logs", "", "write every step's log to `DIR`/PYTHON/STEP.log")
	tail := fs.Int("tail", 15, "how many last lines of a cell's telling step's log to show under the matrix (0: none)")
	showDiff := fs.Bool("diff", false, "print what differs between the Pythons' sdists, bdists, wheels and 2to3 trees")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError{2}
	}
	sdist := fs.Arg(0)
	df, err := dist.ParseFilename(filepath.Base(sdist))
	if err != nil || df.Kind != dist.Sdist {
		return fmt.Errorf("%s: not an sdist file name (want NAME-VERSION.tar.gz, .zip, .tar.bz2 or .tgz)", sdist)
	}
	if fi, err := os.Stat(sdist); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a readable file", sdist)
	}
	abs, _ := filepath.Abs(sdist)
	env, err := st.start(ctx, stderr)
	if err != nil {
		return err
	}
	ins := env.pythons
	if *jobs < 1 {
		*jobs = 1
	}
	opts := runner.Options{Backend: env.backend, Toolchain: env.toolchain, StepTimeout: *timeout}
	if *indexURL != "" {
		if *mirror == "" {
			tmp, err := os.MkdirTemp("", "pysmoke-mirror-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			*mirror = tmp
		}
		ix, err := index.New(index.Options{URL: *indexURL, MirrorDir: *mirror})
		if err != nil {
			return err
		}
		opts.Index = ix
	}
	var store *artifacts.Store
	if *showDiff {
		tmp, err := os.MkdirTemp("", "pysmoke-artifacts-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if store, err = artifacts.Open(tmp); err != nil {
			return err
		}
		opts.Artifacts = store
	}
	r := runner.New(opts)
	results := make([]runner.Result, len(ins))
	sem := make(chan struct{}, *jobs)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var runErr error
	for i, in := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res, err := r.Run(ctx, runner.Job{Project: dist.Normalize(df.Name), Version: df.Version, Sdist: abs, Interpreter: in})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				runErr = err
				return
			}
			results[i] = res
			fmt.Fprintf(stderr, "pysmoke: %s %s on Python %s: %s\n", df.Name, df.Version, in.Minor, describe(res.Status, res.Reason))
		}()
	}
	wg.Wait()
	if runErr != nil {
		return runErr
	}
	if *asJSON {
		if err := printRunJSON(stdout, df, ins, results); err != nil {
			return err
		}
	} else {
		printRunTable(stdout, ins, results)
		printWhy(stdout, ins, results, *tail)
	}
	if *showDiff && !*asJSON {
		if err := printDiffs(stdout, store, env.toolchain, ins, results); err != nil {
			return err
		}
	}
	if *logsDir != "" {
		if err := writeLogs(*logsDir, ins, results); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "pysmoke: logs written to %s\n", *logsDir)
	}
	if code := exitCode(results); code != 0 {
		return exitError{code}
	}
	return nil
}

// printDiffs prints, for each build step, what differs between the
// archive it produced on each Python and on the Python before it (of
// those where it passed with one archive).
func printDiffs(w io.Writer, store *artifacts.Store, tc *toolchain.Wheelhouse, ins []interpreter.Interpreter, results []runner.Result) error {
	// kept is the path of the archive a step of a result built, or "".
	kept := func(res runner.Result, step string) (string, string) {
		for _, st := range res.Steps {
			if st.Name == step && st.Status == outcome.Passed && len(st.Artifacts) == 1 {
				if p, err := store.Path(st.Artifacts[0].SHA256); err == nil {
					return p, filepath.Base(st.Artifacts[0].Path)
				}
			}
		}
		return "", "" // not an archive: nothing kept
	}
	for _, step := range []string{outcome.StepSdist, outcome.StepBdist, outcome.StepWheel, outcome.Step2to3} {
		var sides []diff.Side
		for i, res := range results {
			p, name := kept(res, step)
			if p == "" {
				continue
			}
			set, _ := tc.For(ins[i].Minor)
			side := diff.Side{Label: ins[i].Minor, Path: p, Name: name, Python: ins[i].Version, Tools: set.BuildTools()}
			// A Python 2 wheel or bdist against a Python 3 one: through
			// its modules as this run's 2to3 step converted them.
			if (step == outcome.StepWheel || step == outcome.StepBdist) && strings.HasPrefix(ins[i].Minor, "2.") {
				side.Converted, _ = kept(res, outcome.Step2to3)
			}
			sides = append(sides, side)
		}
		if len(sides) < 2 {
			continue
		}
		fmt.Fprintf(w, "\n%s, between consecutive Pythons:\n", step)
		for i := 1; i < len(sides); i++ {
			rep, err := diff.Archives(sides[i-1], sides[i])
			if err != nil {
				fmt.Fprintf(w, "%s -> %s: cannot compare: %v\n", sides[i-1].Label, sides[i].Label, err)
				continue
			}
			fmt.Fprint(w, rep.String())
		}
	}
	return nil
}

func describe(s outcome.Status, reason string) string {
	if reason == "" {
		return string(s)
	}
	return string(s) + " (" + reason + ")"
}

func exitCode(results []runner.Result) int {
	code := 0
	for _, res := range results {
		for _, st := range res.Steps {
			switch {
			case st.Status.PackageFault() || st.Status == outcome.ResourceLimit:
				return 1
			case st.Status.MachineryFault():
				code = 2
			}
		}
	}
	return code
}

func printRunTable(w io.Writer, ins []interpreter.Interpreter, results []runner.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "PYTHON")
	for _, s := range outcome.Steps {
		fmt.Fprintf(tw, "\t%s", s)
	}
	fmt.Fprintln(tw)
	for i, in := range ins {
		fmt.Fprint(tw, in.Minor)
		byName := map[string]runner.StepResult{}
		for _, st := range results[i].Steps {
			byName[st.Name] = st
		}
		for _, s := range outcome.Steps {
			st, ok := byName[s]
			if !ok {
				fmt.Fprint(tw, "\t-")
				continue
			}
			fmt.Fprintf(tw, "\t%s", describe(st.Status, st.Reason))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// printWhy says, under the matrix, why each cell that did not pass has
// its status: the step that gives it, that step's reason and detail and,
// where the step ran, the last tail lines of its log.
func printWhy(w io.Writer, ins []interpreter.Interpreter, results []runner.Result, tail int) {
	for i, in := range ins {
		res := results[i]
		statuses := make([]outcome.Status, len(res.Steps))
		for k, st := range res.Steps {
			statuses[k] = st.Status
		}
		k := outcome.Failing(res.Status, statuses)
		if k < 0 {
			continue
		}
		st := res.Steps[k]
		fmt.Fprintf(w, "\nPython %s: %s in %s", in.Minor, describe(st.Status, st.Reason), st.Name)
		if st.Detail != "" {
			fmt.Fprintf(w, ": %s", st.Detail)
		}
		fmt.Fprintln(w)
		switch st.Status {
		case outcome.DeclaredUnsupported, outcome.NotAvailable:
			continue // nothing of the step ran: its detail is the whole story
		}
		lines := lastLines(st.Log, tail)
		if len(lines) == 0 {
			continue
		}
		note := ""
		if st.LogTruncated {
			note = ", the log was cut at the output cap"
		}
		fmt.Fprintf(w, "  last %d lines of the %s log%s:\n", len(lines), st.Name, note)
		for _, l := range lines {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
}

// ansiRE matches the terminal control sequences a tool colours its output
// with (CSI and OSC), stripped from the lines shown.
var ansiRE = regexp.MustCompile(`\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\))`)

// lastLines returns the last n non-blank lines of log, without terminal
// control sequences or other control characters.
func lastLines(log []byte, n int) []string {
	if n <= 0 {
		return nil
	}
	text := ansiRE.ReplaceAllString(string(bytes.ToValidUTF8(log, []byte("\uFFFD"))), "")
	all := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var out []string
	for k := len(all) - 1; k >= 0 && len(out) < n; k-- {
		l := strings.TrimRight(strings.Map(func(r rune) rune {
			if r == '\t' {
				return ' '
			}
			if r < 0x20 || r == 0x7f {
				return -1
			}
			return r
		}, all[k]), " ")
		if l != "" {
			out = append(out, l)
		}
	}
	slices.Reverse(out)
	return out
}

// writeLogs writes each step's log to dir/PYTHON/STEP.log.
func writeLogs(dir string, ins []interpreter.Interpreter, results []runner.Result) error {
	for i, in := range ins {
		d := filepath.Join(dir, in.Minor)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("--logs: %w", err)
		}
		for _, st := range results[i].Steps {
			if err := os.WriteFile(filepath.Join(d, st.Name+".log"), st.Log, 0o644); err != nil {
				return fmt.Errorf("--logs: %w", err)
			}
		}
	}
	return nil
}

// runJSON is the schema of "pysmoke run --json" (pysmoke.run/v1).
type runJSON struct {
	Schema  string        `json:"schema"`
	Project string        `json:"project"`
	Version string        `json:"version"`
	Cells   []runCellJSON `json:"cells"`
}

type runCellJSON struct {
	Python      string         `json:"python"`
	FullVersion string         `json:"full_version"`
	Interpreter string         `json:"interpreter"`
	Backend     string         `json:"backend"`
	Status      outcome.Status `json:"status"`
	Reason      string         `json:"reason"`
	Steps       []runStepJSON  `json:"steps"`
	// Provenance: what besides the release the outcome depended on.
	Provenance runner.Provenance `json:"provenance"`
	// TestSource: where the tests' environment was read from ("" for the
	// release's test extras and test requirement files).
	TestSource string `json:"test_source,omitempty"`
	// Dependencies: what was installed with the release for its tests.
	Dependencies []resolver.Pin `json:"dependencies,omitempty"`
}

type runStepJSON struct {
	Name       string            `json:"name"`
	Status     outcome.Status    `json:"status"`
	Reason     string            `json:"reason"`
	Detail     string            `json:"detail"`
	ExitCode   int               `json:"exit_code"`
	DurationMS int64             `json:"duration_ms"`
	MemoryPeak int64             `json:"memory_peak_bytes,omitempty"`
	Artifacts  []runArtifactJSON `json:"artifacts"`
}

type runArtifactJSON struct {
	Path         string          `json:"path"`
	Size         int64           `json:"size"`
	SHA256       string          `json:"sha256"`
	Members      []runMemberJSON `json:"members,omitempty"`
	MembersError string          `json:"members_error,omitempty"`
}

type runMemberJSON struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	Mode   string `json:"mode"`
	SHA256 string `json:"sha256,omitempty"`
	Link   string `json:"link,omitempty"`
}

func printRunJSON(w io.Writer, df dist.File, ins []interpreter.Interpreter, results []runner.Result) error {
	out := runJSON{Schema: "pysmoke.run/v1", Project: dist.Normalize(df.Name), Version: df.Version}
	for i, in := range ins {
		c := runCellJSON{Python: in.Minor, FullVersion: in.Version, Interpreter: in.Path, Backend: results[i].Backend,
			Status: results[i].Status, Reason: results[i].Reason, Steps: []runStepJSON{}, Provenance: results[i].Provenance,
			TestSource: results[i].TestSource, Dependencies: results[i].Dependencies}
		for _, st := range results[i].Steps {
			arts := []runArtifactJSON{}
			for _, a := range st.Artifacts {
				aj := runArtifactJSON{Path: a.Path, Size: a.Size, SHA256: a.SHA256, MembersError: a.MembersError}
				for _, m := range a.Members {
					aj.Members = append(aj.Members, runMemberJSON{Path: m.Path, Size: m.Size, Mode: m.Mode, SHA256: m.SHA256, Link: m.Link})
				}
				arts = append(arts, aj)
			}
			c.Steps = append(c.Steps, runStepJSON{Name: st.Name, Status: st.Status, Reason: st.Reason, Detail: st.Detail,
				ExitCode: st.ExitCode, DurationMS: st.Duration.Milliseconds(), MemoryPeak: st.MemoryPeak, Artifacts: arts})
		}
		out.Cells = append(out.Cells, c)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
