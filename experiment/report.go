package experiment

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/artifacts"
	"github.com/pysmoke/pysmoke/diff"
	"github.com/pysmoke/pysmoke/logtext"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/regression"
)

// ArtifactsDir is where an experiment in dir keeps the archives its steps
// built: the runners of both sides keep them there (runner.Options.Artifacts),
// and the report diffs them.
func ArtifactsDir(dir string) string { return filepath.Join(dir, "artifacts") }

// Schema names the JSON report's format.
const Schema = "pysmoke.experiment/v1"

// Report is what an experiment found.
type Report struct {
	Schema    string    `json:"schema"`
	Name      string    `json:"name"`
	Created   time.Time `json:"created"`
	Generated time.Time `json:"generated"`
	Pythons   []string  `json:"pythons"`
	Baseline  SideSpec  `json:"baseline"`
	Candidate SideSpec  `json:"candidate"`
	Confirm   int       `json:"confirm"`
	// Pairs is how many pairs the experiment has, Complete how many are
	// classified (both sides run and confirmations over).
	Pairs    int `json:"pairs"`
	Complete int `json:"complete"`
	// Counts are the pairs per class, in regression.Classes' order.
	Counts []ClassCount `json:"counts"`
	// Bins group the regressions by their failure's signature, the
	// largest first.
	Bins []Bin `json:"bins"`
	// Results are every classified pair, regressions first.
	Results []Result `json:"results"`
}

// ClassCount is how many pairs have a class.
type ClassCount struct {
	Class regression.Class `json:"class"`
	Count int              `json:"count"`
}

// Bin is the regressions that fail the same way.
type Bin struct {
	Signature regression.Signature `json:"signature"`
	// Results index Report.Results.
	Results []int `json:"results"`
	// BugReport is a report to file upstream, filled in.
	BugReport string `json:"bug_report"`
}

// Result is one pair classified.
type Result struct {
	Project string           `json:"project"`
	Version string           `json:"version"`
	Python  string           `json:"python"`
	Class   regression.Class `json:"class"`
	// Step decided the class; Before and After are its outcome on the
	// baseline and on the candidate.
	Step   string `json:"step,omitempty"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	// Flaky says why a change that did not reproduce is spurious.
	Flaky string `json:"flaky,omitempty"`
	// Reruns is how many confirmation reruns were made, and of which side.
	Reruns        int    `json:"reruns"`
	ConfirmedSide string `json:"confirmed_side,omitempty"`
	// Signature is a regression's failure, as binned.
	Signature regression.Signature `json:"signature,omitempty"`
	Baseline  RunRef               `json:"baseline"`
	Candidate RunRef               `json:"candidate"`
	// Diffs compare the archives the build steps made on each side (for
	// regressions and fixes).
	Diffs []StepDiff `json:"diffs,omitempty"`
}

// RunRef is one side's first run of a pair.
type RunRef struct {
	ID     int64          `json:"id"`
	Status outcome.Status `json:"status"`
	Reason string         `json:"reason,omitempty"`
	// Detail and LogTail are the deciding step's (regressions and fixes).
	Detail  string `json:"detail,omitempty"`
	LogTail string `json:"log_tail,omitempty"`
	// Log is the deciding step's whole log, relative to the experiment's
	// folder.
	Log string `json:"log,omitempty"`
}

// StepDiff is what differs between the sides' archives of a step.
type StepDiff struct {
	Step string `json:"step"`
	// Text is the diff as package diff writes it; Why says why there is
	// none (a side built nothing).
	Text string `json:"text,omitempty"`
	Why  string `json:"why,omitempty"`
}

// logTailLines is how much of each log the report shows.
const logTailLines = 60

func (e *engine) report() *Report {
	rep := &Report{Schema: Schema, Name: e.spec.Name, Created: e.spec.Created, Generated: time.Now().UTC(),
		Pythons: e.spec.Pythons, Baseline: e.spec.Baseline, Candidate: e.spec.Candidate, Confirm: e.spec.Confirm,
		Pairs: len(e.spec.Releases) * len(e.spec.Pythons)}
	counts := map[regression.Class]int{}
	arts, _ := artifacts.Open(ArtifactsDir(e.opts.Dir))
	for _, p := range e.pairs() {
		if !p.settled(e.spec.Confirm) {
			continue
		}
		v, flaky := p.verdict()
		res := Result{Project: p.Release.Project, Version: p.Release.Version, Python: p.Python, Class: v.Class,
			Step: v.Step, Before: v.Before, After: v.After, Flaky: flaky, Reruns: len(p.Reruns), ConfirmedSide: p.ConfirmedSide,
			Baseline: ref(e.opts.Dir, p.Base, ""), Candidate: ref(e.opts.Dir, p.Cand, "")}
		switch v.Class {
		case regression.Regressed, regression.Fixed, regression.SpuriousRegressed, regression.SpuriousFixed:
			res.Baseline, res.Candidate = ref(e.opts.Dir, p.Base, v.Step), ref(e.opts.Dir, p.Cand, v.Step)
			res.Diffs = diffs(arts, e.spec, p)
		}
		if v.Class == regression.Regressed {
			st := stepOf(p.Cand, v.Step)
			log, _ := p.Cand.Log(v.Step)
			res.Signature = regression.SignatureOf(st.Reason, st.Detail, log)
		}
		counts[v.Class]++
		rep.Complete++
		rep.Results = append(rep.Results, res)
	}
	rank := map[regression.Class]int{}
	for i, c := range regression.Classes {
		rank[c] = i
		rep.Counts = append(rep.Counts, ClassCount{Class: c, Count: counts[c]})
	}
	sort.SliceStable(rep.Results, func(i, j int) bool {
		a, b := rep.Results[i], rep.Results[j]
		if rank[a.Class] != rank[b.Class] {
			return rank[a.Class] < rank[b.Class]
		}
		if a.Project != b.Project {
			return a.Project < b.Project
		}
		return a.Python < b.Python
	})
	bins := map[regression.Signature]*Bin{}
	for i, r := range rep.Results {
		if r.Class != regression.Regressed {
			continue
		}
		b := bins[r.Signature]
		if b == nil {
			b = &Bin{Signature: r.Signature}
			bins[r.Signature] = b
		}
		b.Results = append(b.Results, i)
	}
	for _, b := range bins {
		b.BugReport = bugReport(rep, b)
		rep.Bins = append(rep.Bins, *b)
	}
	sort.Slice(rep.Bins, func(i, j int) bool {
		if len(rep.Bins[i].Results) != len(rep.Bins[j].Results) {
			return len(rep.Bins[i].Results) > len(rep.Bins[j].Results)
		}
		return rep.Bins[i].Signature < rep.Bins[j].Signature
	})
	return rep
}

func stepOf(r *Record, name string) Step {
	for _, s := range r.Steps {
		if s.Name == name {
			return s
		}
	}
	return Step{}
}

func ref(dir string, r *Record, step string) RunRef {
	out := RunRef{ID: r.ID, Status: r.Status, Reason: r.Reason}
	if step == "" {
		return out
	}
	st := stepOf(r, step)
	out.Detail = st.Detail
	if log, err := r.Log(step); err == nil {
		out.LogTail = logtext.Tail(log, logTailLines)
		if rel, err := filepath.Rel(dir, filepath.Join(r.dir, step+".log")); err == nil {
			out.Log = rel
		}
	}
	return out
}

// diffs compares the archives each build step made on the two sides.
func diffs(arts *artifacts.Store, spec Spec, p *pair) []StepDiff {
	var out []StepDiff
	for _, step := range []string{outcome.StepSdist, outcome.StepBdist, outcome.StepWheel, outcome.Step2to3} {
		a, whyA := archiveOf(arts, p.Base, step)
		b, whyB := archiveOf(arts, p.Cand, step)
		switch {
		case whyA != "" && whyB != "":
			continue // neither side made one: nothing to say
		case whyA != "":
			out = append(out, StepDiff{Step: step, Why: "the baseline " + whyA})
			continue
		case whyB != "":
			out = append(out, StepDiff{Step: step, Why: "the candidate " + whyB})
			continue
		}
		a.Label, a.Tools = Baseline, spec.Baseline.Tools[p.Python]
		b.Label, b.Tools = Candidate, spec.Candidate.Tools[p.Python]
		a.Python, b.Python = p.Base.FullVersion, p.Cand.FullVersion
		rep, err := diff.Archives(a, b)
		if err != nil {
			out = append(out, StepDiff{Step: step, Why: "cannot compare: " + err.Error()})
			continue
		}
		out = append(out, StepDiff{Step: step, Text: rep.String()})
	}
	return out
}

// archiveOf is the one archive a step made in a run, or why there is none.
func archiveOf(arts *artifacts.Store, r *Record, step string) (diff.Side, string) {
	st := stepOf(r, step)
	switch {
	case st.Name == "":
		return diff.Side{}, "did not run " + step
	case st.Status != outcome.Passed:
		return diff.Side{}, fmt.Sprintf("%s %s", step, strings.TrimSpace(string(st.Status)+" "+st.Reason))
	case len(st.Artifacts) != 1:
		return diff.Side{}, fmt.Sprintf("%s made %d archives", step, len(st.Artifacts))
	case arts == nil:
		return diff.Side{}, "kept no archives"
	}
	p, err := arts.Path(st.Artifacts[0].SHA256)
	if err != nil {
		return diff.Side{}, "archive of " + step + " is not kept"
	}
	return diff.Side{Path: p, Name: filepath.Base(st.Artifacts[0].Path), Project: r.Project, Version: r.Version}, ""
}

// bugReport writes the text of a report to file about a bin.
func bugReport(rep *Report, b *Bin) string {
	var sb strings.Builder
	first := rep.Results[b.Results[0]]
	fmt.Fprintf(&sb, "Title: %s breaks %d release(s) that %s builds and tests: %s\n\n", rep.Candidate.Label, len(b.Results), rep.Baseline.Label, b.Signature)
	fmt.Fprintf(&sb, "With %s instead of %s, these releases fail where they passed, each reproduced on %d more run(s):\n\n",
		rep.Candidate.Label, rep.Baseline.Label, rep.Confirm)
	for _, i := range b.Results {
		r := rep.Results[i]
		fmt.Fprintf(&sb, "- %s %s on Python %s: the %s step, %s -> %s\n", r.Project, r.Version, r.Python, r.Step, r.Before, r.After)
	}
	fmt.Fprintf(&sb, "\nThe failure (%s %s on Python %s, %s step, last lines of its log):\n\n", first.Project, first.Version, first.Python, first.Step)
	for _, l := range strings.Split(trimLines(first.Candidate.LogTail, 20), "\n") {
		fmt.Fprintf(&sb, "    %s\n", l)
	}
	fmt.Fprintf(&sb, "\nFound by pysmoke experiment %q: the same releases, on the same interpreters, in the same sealed offline sandbox; only the toolchain or interpreter differs.\n", rep.Name)
	return sb.String()
}

//go:embed templates/report.html
var templateFS embed.FS

var page = template.Must(template.New("report.html").Funcs(template.FuncMap{
	"nth": func(rs []Result, i int) Result { return rs[i] },
}).ParseFS(templateFS, "templates/report.html"))

// Write writes the report into dir as report.json and report.html.
func (rep *Report) Write(dir string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, "report.json"), append(b, '\n')); err != nil {
		return err
	}
	var html bytes.Buffer
	if err := page.Execute(&html, rep); err != nil {
		return fmt.Errorf("experiment report: %w", err)
	}
	return writeAtomic(filepath.Join(dir, "report.html"), html.Bytes())
}

// Count is how many pairs have a class.
func (rep *Report) Count(c regression.Class) int {
	i := slices.IndexFunc(rep.Counts, func(cc ClassCount) bool { return cc.Class == c })
	if i < 0 {
		return 0
	}
	return rep.Counts[i].Count
}
