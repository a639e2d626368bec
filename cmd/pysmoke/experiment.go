package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/allowlist"
	"github.com/pysmoke/pysmoke/artifacts"
	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/experiment"
	"github.com/pysmoke/pysmoke/index"
	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/regression"
	"github.com/pysmoke/pysmoke/resolver"
	"github.com/pysmoke/pysmoke/runner"
	"github.com/pysmoke/pysmoke/toolchain"
)

const experimentSynopsis = `Usage: pysmoke experiment [flags] NAME [PROJECT[==VERSION] | SDIST ...]

Runs the latest release of each project (those named, or every project of
--allowlist) on each Python twice, with the baseline (this machine's
interpreters and offline toolchain) and with a candidate:
  --candidate-wheel FILE   the toolchain with this wheel in place of the
                           toolchain's wheel of the same project (e.g.
                           setuptools-58.1.0-py3-none-any.whl); repeatable
  --candidate-require REQ  the same with the newest pure wheel on --index
                           that meets a requirement ("setuptools==58.1.0"),
                           fetched and verified; repeatable
  --candidate-python PATH  another build of an interpreter, in place of the
                           machine's interpreter of its minor version
A project whose wheel the candidate replaces is installed from each side's
toolchain alone, never from --index (a newer one there would be chosen on
both sides). Each pair of runs is classified (regressed, fixed, same-failure, same-pass,
spurious-regressed, spurious-fixed, broken, error, skipped); a regression
or a fix is rerun --confirm times first, and one that does not reproduce is
spurious (flaky). Both sides' runs are kept.

The experiment lives in DATA/experiments/NAME: its spec, a journal of
every run with its logs, the archives built, and report.html and
report.json (the counts per class, the regressions binned by their
failure's signature with a bug report text for each bin, each regression
with both logs side by side and the diff of what the builds made).
Starting it again with the same NAME goes on where it stopped; progress
(done, left, an estimate of the time left) is printed as runs end.

Exit status: 0 when the experiment completed (whatever it found), 2 on
bad usage or when the machinery failed.`

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

const noiseSynopsis = `Usage: pysmoke noise [flags] NAME [PROJECT[==VERSION] | SDIST ...]

Runs the latest release of each project (those named, or every project of
--allowlist) twice on one Python (--python X.Y), with nothing changed
between the two runs, and reports the flake rate: the share of pairs
whose outcome differs when nothing else did. Each such pair is listed
(a test that fails only sometimes, a build that depends on the time).
It is an experiment whose candidate is the baseline, without
confirmation reruns, kept in DATA/experiments/NAME like one; starting it
again goes on where it stopped.`

func cmdExperiment(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return experimentCommand(ctx, args, stdout, stderr, false)
}

func cmdNoise(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return experimentCommand(ctx, args, stdout, stderr, true)
}

// experimentCommand is "pysmoke experiment", or with noise "pysmoke
// noise": the same releases twice with nothing changed.
func experimentCommand(ctx context.Context, args []string, stdout, stderr io.Writer, noise bool) error {
	synopsis, cmd := experimentSynopsis, "experiment"
	if noise {
		synopsis, cmd = noiseSynopsis, "noise"
	}
	fl := newFlags(cmd, synopsis, stderr)
	var st startup
	st.register(fl)
	dataDir := fl.String("data", "pysmoke-data", "data folder: the experiment is kept in DATA/experiments/NAME, downloads in DATA/mirror")
	indexURL := fl.String("index", "", "index the releases and their dependencies come from (required for PROJECT arguments)")
	allowPath := fl.String("allowlist", "", "run every project of this allowlist (with its test commands and timeouts)")
	var wheels, requires multiFlag
	candPython, confirm := new(string), new(int)
	if !noise {
		fl.Var(&wheels, "candidate-wheel", "a wheel the candidate toolchain has in place of the toolchain's wheel of the same project (repeatable)")
		fl.Var(&requires, "candidate-require", "a requirement (\"setuptools==58.1.0\") whose newest pure wheel on --index the candidate toolchain has, as --candidate-wheel (repeatable)")
		fl.StringVar(candPython, "candidate-python", "", "path of the candidate interpreter, in place of the machine's interpreter of its minor version")
		fl.IntVar(confirm, "confirm", 3, "how many times a regression or a fix is rerun before it is believed (0: never)")
	}
	jobs := fl.Int("j", runtime.NumCPU(), "how many jobs run at once")
	timeout := fl.Duration("step-timeout", 10*time.Minute, "wall-clock limit of each step")
	if err := parseFlags(fl, args); err != nil {
		return err
	}
	if fl.NArg() < 1 {
		fl.Usage()
		return exitError{2}
	}
	name := fl.Arg(0)
	if !dist.ValidName(name) {
		return fmt.Errorf("experiment name %q: use letters, digits, '.', '-' and '_'", name)
	}
	if *confirm < 0 || *jobs < 1 {
		return errors.New("--confirm must be 0 or more, -j 1 or more")
	}
	dir := filepath.Join(*dataDir, "experiments", name)
	spec, err := experiment.Load(dir)
	resuming := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if resuming && (fl.NArg() > 1 || *allowPath != "" || len(wheels) > 0 || len(requires) > 0 || *candPython != "") {
		return fmt.Errorf("experiment %s exists (%s): go on with it with \"pysmoke %s %s\" alone, or give another name", name, dir, cmd, name)
	}
	if noise && (st.py.only == "" || strings.Contains(st.py.only, ",")) {
		return errors.New("pysmoke noise runs on one Python: give --python X.Y")
	}
	if !resuming && !noise && len(wheels) == 0 && len(requires) == 0 && *candPython == "" {
		return errors.New("no candidate: give --candidate-wheel, --candidate-require or --candidate-python")
	}
	if !resuming && fl.NArg() == 1 && *allowPath == "" {
		return errors.New("nothing to run: name projects or sdists, or give --allowlist")
	}

	env, err := st.start(ctx, stderr)
	if err != nil {
		return err
	}
	if *timeout <= 0 {
		return errors.New("--step-timeout must be positive")
	}
	var ix *index.Client
	if *indexURL != "" {
		if ix, err = index.New(index.Options{URL: *indexURL, MirrorDir: filepath.Join(*dataDir, "mirror")}); err != nil {
			return err
		}
	}

	if !resuming && len(requires) > 0 {
		if ix == nil {
			return errors.New("--candidate-require needs --index")
		}
		for _, req := range requires {
			w, err := wheelFor(ctx, ix, req)
			if err != nil {
				return fmt.Errorf("--candidate-require: %w", err)
			}
			fmt.Fprintf(stderr, "pysmoke: candidate %s: %s\n", req, filepath.Base(w))
			wheels = append(wheels, w)
		}
	}
	if !resuming {
		if spec, err = newSpec(ctx, name, dir, fl, env, ix, *allowPath, wheels, *candPython, *confirm, stderr); err == nil {
			err = experiment.Create(dir, spec)
		}
		if err != nil {
			os.RemoveAll(dir) // what newSpec copied in: no experiment was made
			return err
		}
		fmt.Fprintf(stderr, "pysmoke: experiment %s: %d releases on Python %s, %s against %s, in %s\n", name,
			len(spec.Releases), strings.Join(spec.Pythons, ", "), spec.Candidate.Label, spec.Baseline.Label, dir)
	} else {
		fmt.Fprintf(stderr, "pysmoke: experiment %s: going on in %s\n", name, dir)
	}

	// The sides, as the spec says (a resumed experiment's candidate
	// wheels are the copies in its folder).
	baseIns := map[string]interpreter.Interpreter{}
	for _, in := range env.pythons {
		baseIns[in.Minor] = in
	}
	candIns := map[string]interpreter.Interpreter{}
	for k, v := range baseIns {
		candIns[k] = v
	}
	if spec.Candidate.Interpreter != "" {
		in, err := interpreter.Identify(ctx, spec.Candidate.Interpreter)
		if err != nil {
			return fmt.Errorf("candidate interpreter: %w", err)
		}
		candIns[in.Minor] = in
	}
	for _, py := range spec.Pythons {
		if _, ok := baseIns[py]; !ok {
			return fmt.Errorf("experiment %s runs on Python %s, which this machine does not have (or --python left out)", name, py)
		}
	}
	candTC := env.toolchain
	if len(spec.Candidate.Wheels) > 0 {
		var files []string
		for f := range spec.Candidate.Wheels {
			files = append(files, filepath.Join(dir, "candidate", f))
		}
		sort.Strings(files)
		if candTC, err = toolchain.Candidate(env.toolchain, files, filepath.Join(*dataDir, "toolchains")); err != nil {
			return err
		}
	}
	if spec.Baseline.Toolchain != env.toolchain.Key || spec.Candidate.Toolchain != candTC.Key {
		return fmt.Errorf("experiment %s was started with another toolchain (baseline %.12s, candidate %.12s; now %.12s and %.12s): its runs would not compare",
			name, spec.Baseline.Toolchain, spec.Candidate.Toolchain, env.toolchain.Key, candTC.Key)
	}
	arts, err := artifacts.Open(experiment.ArtifactsDir(dir))
	if err != nil {
		return err
	}
	scratch := filepath.Join(*dataDir, "scratch")
	// What the candidate replaces is taken from each side's toolchain
	// alone: a newer setuptools on the index would be chosen on both.
	var pinned []string
	for f := range spec.Candidate.Wheels {
		if df, err := dist.ParseFilename(f); err == nil {
			pinned = append(pinned, dist.Normalize(df.Name))
		}
	}
	mk := func(tc *toolchain.Wheelhouse) *runner.Runner {
		o := runner.Options{Backend: env.backend, Toolchain: tc, StepTimeout: *timeout, Artifacts: arts, ScratchDir: scratch,
			ToolchainOnly: pinned}
		if ix != nil {
			o.Index = ix
		}
		return runner.New(o)
	}
	rep, err := experiment.Run(ctx, experiment.Options{Dir: dir, Jobs: *jobs,
		Baseline:  experiment.Side{Runner: mk(env.toolchain), Interpreters: baseIns},
		Candidate: experiment.Side{Runner: mk(candTC), Interpreters: candIns},
		Progress: func(p experiment.Progress) {
			r := p.Last
			left := ""
			if p.Left > 0 {
				left = ", about " + p.Left.Round(time.Second).String() + " left"
			}
			again := ""
			if r.Attempt > 0 {
				again = fmt.Sprintf(", rerun %d", r.Attempt)
			}
			fmt.Fprintf(stderr, "pysmoke: [%d/%d] %s %s on %s (%s%s): %s%s\n", p.Done, p.Total, r.Project, r.Version, r.Python,
				r.Side, again, describe(r.Status, r.Reason), left)
		}})
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "pysmoke: experiment %s stopped; run \"pysmoke %s --data %s %s\" to go on\n", name, cmd, *dataDir, name)
		}
		return err
	}
	if noise {
		printNoise(stdout, rep, dir)
		return nil
	}
	printExperiment(stdout, rep, dir)
	return nil
}

// newSpec makes a new experiment's spec: its releases (fetched, verified),
// Pythons and sides; the candidate wheels are copied into its folder.
func newSpec(ctx context.Context, name, dir string, fset *flag.FlagSet, env *started, ix *index.Client, allowPath string,
	wheels []string, candPython string, confirm int, stderr io.Writer) (experiment.Spec, error) {
	spec := experiment.Spec{Name: name, Confirm: confirm}
	for _, in := range env.pythons {
		spec.Pythons = append(spec.Pythons, in.Minor)
	}
	var opts func(string) allowlist.Options
	wanted := fset.Args()[1:]
	if allowPath != "" {
		l, problems, err := allowlist.Load(allowPath)
		if err != nil {
			return spec, err
		}
		for _, p := range problems {
			fmt.Fprintf(stderr, "pysmoke: warning: %s: %v\n", allowPath, p)
		}
		wanted = append(wanted, l.Names()...)
		opts = func(p string) allowlist.Options { o, _ := l.Options(p); return o }
	}
	seen := map[string]bool{}
	for _, w := range wanted {
		rel, err := releaseOf(ctx, ix, w)
		if err != nil {
			return spec, err
		}
		if seen[rel.Project+"=="+rel.Version] {
			continue
		}
		seen[rel.Project+"=="+rel.Version] = true
		if opts != nil {
			o := opts(rel.Project)
			rel.TestCommand = o.Test
			for _, step := range outcome.Steps {
				if d := o.TimeoutFor(step); d > 0 {
					if rel.Timeouts == nil {
						rel.Timeouts = map[string]time.Duration{}
					}
					rel.Timeouts[step] = d
				}
			}
		}
		spec.Releases = append(spec.Releases, rel)
	}

	set := func(tc *toolchain.Wheelhouse) map[string]string {
		out := map[string]string{}
		for _, py := range spec.Pythons {
			if s, err := tc.For(py); err == nil {
				out[py] = s.BuildTools()
			}
		}
		return out
	}
	spec.Baseline = experiment.SideSpec{Toolchain: env.toolchain.Key, Tools: set(env.toolchain)}
	spec.Candidate = experiment.SideSpec{Toolchain: env.toolchain.Key, Interpreter: candPython}
	candTC := env.toolchain
	if len(wheels) > 0 {
		if err := os.MkdirAll(filepath.Join(dir, "candidate"), 0o755); err != nil {
			return spec, err
		}
		spec.Candidate.Wheels = map[string]string{}
		var copies []string
		for _, w := range wheels {
			sum, err := copyFile(w, filepath.Join(dir, "candidate", filepath.Base(w)))
			if err != nil {
				return spec, fmt.Errorf("--candidate-wheel: %w", err)
			}
			spec.Candidate.Wheels[filepath.Base(w)] = sum
			copies = append(copies, filepath.Join(dir, "candidate", filepath.Base(w)))
		}
		var err error
		if candTC, err = toolchain.Candidate(env.toolchain, copies, filepath.Join(filepath.Dir(filepath.Dir(dir)), "toolchains")); err != nil {
			return spec, err
		}
		spec.Candidate.Toolchain = candTC.Key
	}
	spec.Candidate.Tools = set(candTC)
	spec.Baseline.Label, spec.Candidate.Label = sideLabels(spec)
	if len(wheels) == 0 && candPython == "" { // pysmoke noise
		spec.Baseline.Label, spec.Candidate.Label = "a first run", "a second run, nothing changed"
	}
	if candPython != "" {
		in, err := interpreter.Identify(ctx, candPython)
		if err != nil {
			return spec, fmt.Errorf("--candidate-python: %w", err)
		}
		if !slices.Contains(spec.Pythons, in.Minor) {
			return spec, fmt.Errorf("--candidate-python is Python %s, which the baseline does not run (Pythons: %s)", in.Minor, strings.Join(spec.Pythons, ", "))
		}
		spec.Candidate.Interpreter = in.Path
		spec.Candidate.Label = "Python " + in.Version + " at " + in.Path
		spec.Baseline.Label = "Python " + in.Minor + " of this machine"
	}
	return spec, nil
}

// sideLabels names the sides by what differs in their build tools.
func sideLabels(spec experiment.Spec) (string, string) {
	var a, b []string
	for _, py := range spec.Pythons {
		if spec.Baseline.Tools[py] != spec.Candidate.Tools[py] {
			a, b = append(a, spec.Baseline.Tools[py]), append(b, spec.Candidate.Tools[py])
		}
	}
	a, b = slices.Compact(a), slices.Compact(b)
	if len(a) == 0 {
		return "the toolchain", "the toolchain"
	}
	return strings.Join(a, "; "), strings.Join(b, "; ")
}

// releaseOf finds a release: an sdist file, PROJECT==VERSION on the
// index, or the latest final release of PROJECT there (a pre-release
// only when it has nothing else), fetched and verified.
func releaseOf(ctx context.Context, ix *index.Client, arg string) (experiment.Release, error) {
	if df, err := dist.ParseFilename(filepath.Base(arg)); err == nil && df.Kind == dist.Sdist {
		if _, err := os.Stat(arg); err == nil {
			abs, _ := filepath.Abs(arg)
			sum, err := fileSum(abs)
			if err != nil {
				return experiment.Release{}, err
			}
			return experiment.Release{Project: dist.Normalize(df.Name), Version: df.Version, Sdist: abs, SHA256: sum}, nil
		}
	}
	project, version, _ := strings.Cut(arg, "==")
	name, err := dist.NormalizeValid(project)
	if err != nil {
		return experiment.Release{}, fmt.Errorf("%q: neither an sdist file nor a project name", arg)
	}
	if ix == nil {
		return experiment.Release{}, fmt.Errorf("%s: give --index to find its releases", name)
	}
	files, err := ix.Files(ctx, name)
	if err != nil {
		return experiment.Release{}, err
	}
	var best *resolver.Candidate
	bestPre := true
	for i, f := range files {
		df, err := dist.ParseFilename(f.Filename)
		if err != nil || df.Kind != dist.Sdist || f.Yanked {
			continue
		}
		if version != "" && dist.CompareVersions(df.Version, version) != 0 {
			continue
		}
		v, err := dist.ParseVersion(df.Version)
		if err != nil {
			continue
		}
		pre := v.IsPrerelease()
		if best != nil && (pre && !bestPre || pre == bestPre && dist.CompareVersions(df.Version, best.Version) <= 0) {
			continue
		}
		best, bestPre = &files[i], pre
	}
	if best == nil {
		if version != "" {
			return experiment.Release{}, fmt.Errorf("%s %s: no sdist of that release on the index", name, version)
		}
		return experiment.Release{}, fmt.Errorf("%s: no sdist on the index", name)
	}
	path, err := ix.Fetch(ctx, *best)
	if err != nil {
		return experiment.Release{}, err
	}
	return experiment.Release{Project: name, Version: best.Version, Sdist: path, SHA256: best.SHA256}, nil
}

// wheelFor fetches, verified, the newest pure wheel (py3 or py2.py3, no
// ABI, any platform) on the index that meets a requirement.
func wheelFor(ctx context.Context, ix *index.Client, req string) (string, error) {
	r, err := dist.ParseRequirement(req)
	if err != nil || r.URL != "" || r.Marker != nil || len(r.Extras) > 0 {
		return "", fmt.Errorf("%q: want a project and a version range, e.g. setuptools==58.1.0", req)
	}
	files, err := ix.Files(ctx, r.Name)
	if err != nil {
		return "", err
	}
	var best *resolver.Candidate
	for i, f := range files {
		df, err := dist.ParseFilename(f.Filename)
		if err != nil || df.Kind != dist.Wheel || f.Yanked || !strings.HasSuffix(f.Filename, "-none-any.whl") {
			continue
		}
		if ok, err := r.Allows(df.Version, false); err != nil || !ok {
			continue
		}
		if best == nil || dist.CompareVersions(df.Version, best.Version) > 0 {
			best = &files[i]
		}
	}
	if best == nil {
		return "", fmt.Errorf("%s: no pure wheel on the index meets it", req)
	}
	return ix.Fetch(ctx, *best)
}

// fileSum is the SHA-256 of a file.
func fileSum(p string) (string, error) { return hashCopy(p, io.Discard) }

// copyFile copies a file and returns its SHA-256.
func copyFile(from, to string) (string, error) {
	out, err := os.Create(to)
	if err != nil {
		return "", err
	}
	sum, err := hashCopy(from, out)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return sum, err
}

// hashCopy writes a file's bytes to w and returns their SHA-256.
func hashCopy(from string, w io.Writer) (string, error) {
	in, err := os.Open(from)
	if err != nil {
		return "", err
	}
	defer in.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(w, h), in); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// printExperiment prints the counts, the bins and where the report is.
func printExperiment(w io.Writer, rep *experiment.Report, dir string) {
	fmt.Fprintf(w, "experiment %s: %s against %s, %d of %d pairs\n", rep.Name, rep.Candidate.Label, rep.Baseline.Label, rep.Complete, rep.Pairs)
	for _, c := range rep.Counts {
		if c.Count > 0 {
			fmt.Fprintf(w, "  %-20s %d\n", c.Class, c.Count)
		}
	}
	for _, b := range rep.Bins {
		fmt.Fprintf(w, "\nregressed: %s (%d)\n", b.Signature, len(b.Results))
		for _, i := range b.Results {
			r := rep.Results[i]
			fmt.Fprintf(w, "  %s %s on %s: %s, %s -> %s\n", r.Project, r.Version, r.Python, r.Step, r.Before, r.After)
		}
	}
	for _, r := range rep.Results {
		if r.Class == regression.SpuriousRegressed || r.Class == regression.SpuriousFixed {
			why := r.Flaky
			if why == "" {
				why = fmt.Sprintf("%s: %s -> %s", r.Step, r.Before, r.After)
			}
			fmt.Fprintf(w, "\n%s: %s %s on %s: %s", r.Class, r.Project, r.Version, r.Python, why)
		}
	}
	fmt.Fprintf(w, "\nreport: %s\n", filepath.Join(dir, "report.html"))
}

// printNoise prints the flake rate: the pairs of two runs of the same
// thing that differ, of those where something was compared.
func printNoise(w io.Writer, rep *experiment.Report, dir string) {
	compared, differ := 0, 0
	var lines []string
	for _, r := range rep.Results {
		switch r.Class {
		case regression.Skipped:
			continue
		case regression.SamePass, regression.SameFailure, regression.Broken, regression.Error:
		default:
			differ++
			lines = append(lines, fmt.Sprintf("  %s %s on %s: %s, %s -> %s", r.Project, r.Version, r.Python, r.Step, r.Before, r.After))
		}
		compared++
	}
	rate := 0.0
	if compared > 0 {
		rate = 100 * float64(differ) / float64(compared)
	}
	fmt.Fprintf(w, "noise %s: %d of %d pairs differ between two runs of the same thing: flake rate %.1f%%\n", rep.Name, differ, compared, rate)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintf(w, "report: %s\n", filepath.Join(dir, "report.html"))
}
