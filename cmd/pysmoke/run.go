package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/index"
	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/resolver"
	"github.com/pysmoke/pysmoke/runner"
)

const runSynopsis = `Usage: pysmoke run [flags] SDIST

Runs the steps (unpack, sdist, bdist, wheel, import of the built wheel's
modules, tests against the built wheel, 2to3) of one sdist on every Python
of this machine, each in a fresh sealed
sandbox with its tools installed from the offline toolchain, and prints the
matrix. Its dependencies come from the offline toolchain and, with --index,
from that index (downloaded, verified, into --mirror).

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
	}
	if code := exitCode(results); code != 0 {
		return exitError{code}
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
			Dependencies: results[i].Dependencies}
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
