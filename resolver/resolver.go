// Package resolver works out, for one interpreter, which files satisfy a
// release's requirements: the closure of its runtime and test
// dependencies, with environment markers evaluated for that interpreter,
// wheel tags matched to it, and Requires-Python respected. It never runs
// package code: metadata comes from the index (PEP 658 files), from wheels,
// or from the sandbox, through the Index its caller provides.
//
// The search is a depth-first backtracking one, newest versions first, as
// installers do; a step budget bounds it so that a pathological graph ends
// in an answer ("too complex") rather than a hang.
package resolver

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/pysmoke/pysmoke/dist"
)

// Candidate is one file of one version of a project.
type Candidate struct {
	Project        string // normalised
	Version        string
	Filename       string
	URL            string
	SHA256         string
	RequiresPython string // as the index gives it; may be empty
	Yanked         bool
	// CoreMetadata announces the file's PEP 658 metadata file (at URL +
	// ".metadata"): "" when the index serves none, else "sha256=<hex>"
	// (or "true" when the index gave no hash).
	CoreMetadata string
}

// Index is what the resolver needs of the index and the mirror.
type Index interface {
	// Files lists a project's files; an error wrapping ErrNoProject when
	// the index does not have the project.
	Files(ctx context.Context, project string) ([]Candidate, error)
	// Metadata returns a file's core metadata.
	Metadata(ctx context.Context, c Candidate) (dist.Metadata, error)
}

// ErrNoProject is wrapped by Index.Files for a project the index lacks.
var ErrNoProject = errors.New("project not on the index")

// Target is the interpreter the closure is for.
type Target struct {
	PythonVersion string           // full version, e.g. "3.12.1"
	Env           dist.Environment // marker variables of the interpreter
	Tags          []dist.Tag       // accepted wheel tags, most preferred first
	// AllowSdists lets a version without a fitting wheel be satisfied by
	// its sdist (built in the job, which needs the toolchain).
	AllowSdists bool
	// MaxSteps bounds the search; default 5,000 candidate tries.
	MaxSteps int
}

// Pin is one chosen file.
type Pin struct {
	Project  string `json:"project"`
	Version  string `json:"version"`
	Filename string `json:"filename"`
	SHA256   string `json:"sha256"`
}

// Unmet says why a requirement could not be met.
type Unmet struct {
	Requirement string `json:"requirement"`
	Reason      string `json:"reason"`
	// DeclaredUnsupported is set when the only obstacle was the
	// requirement's own Requires-Python: the dependency itself says it does
	// not support this interpreter.
	DeclaredUnsupported bool `json:"declared_unsupported"`
}

func (u Unmet) Error() string { return u.Requirement + ": " + u.Reason }

// Result is a resolution: either every requirement pinned, or the
// requirement that could not be met.
type Result struct {
	Pins  []Pin  `json:"pins"`
	Unmet *Unmet `json:"unmet,omitempty"`
}

type want struct {
	req    dist.Requirement
	text   string
	by     string
	extras []string
}

type state struct {
	pins   map[string]Pin
	extras map[string]map[string]bool
	reqs   map[string][]want // every requirement seen on a project, for re-checks
}

func (s state) clone() state {
	n := state{pins: map[string]Pin{}, extras: map[string]map[string]bool{}, reqs: map[string][]want{}}
	for k, v := range s.pins {
		n.pins[k] = v
	}
	for k, v := range s.extras {
		m := map[string]bool{}
		for e := range v {
			m[e] = true
		}
		n.extras[k] = m
	}
	for k, v := range s.reqs {
		n.reqs[k] = append([]want(nil), v...)
	}
	return n
}

type resolver struct {
	idx     Index
	t       Target
	steps   int
	files   map[string][]Candidate
	meta    map[string]dist.Metadata
	problem *Unmet
}

// ErrTooComplex is returned when the search exceeds its budget.
var ErrTooComplex = errors.New("resolution too complex")

// Resolve finds files for the requirements (PEP 508 strings, e.g. a
// release's Requires-Dist, with "extra" markers evaluated for the given
// extras). The error is non-nil only when the index failed (the
// machinery's problem); an unsatisfiable requirement is Result.Unmet.
func Resolve(ctx context.Context, idx Index, requirements []string, extras []string, t Target) (Result, error) {
	if t.MaxSteps == 0 {
		t.MaxSteps = 5000
	}
	r := &resolver{idx: idx, t: t, files: map[string][]Candidate{}, meta: map[string]dist.Metadata{}}
	var pending []want
	for _, s := range requirements {
		ws, err := r.applicable(s, "the release", extras)
		if err != nil {
			return Result{Unmet: &Unmet{Requirement: s, Reason: err.Error()}}, nil
		}
		pending = append(pending, ws...)
	}
	st := state{pins: map[string]Pin{}, extras: map[string]map[string]bool{}, reqs: map[string][]want{}}
	final, ok, err := r.solve(ctx, pending, st)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		if r.problem == nil {
			r.problem = &Unmet{Requirement: strings.Join(requirements, ", "), Reason: "no combination of versions satisfies every requirement"}
		}
		return Result{Unmet: r.problem}, nil
	}
	res := Result{Pins: []Pin{}}
	for _, p := range final.pins {
		res.Pins = append(res.Pins, p)
	}
	sort.Slice(res.Pins, func(i, j int) bool { return res.Pins[i].Project < res.Pins[j].Project })
	return res, nil
}

// applicable parses a requirement and returns it when its marker holds
// for the target with the requirer's extras.
func (r *resolver) applicable(s, by string, extras []string) ([]want, error) {
	req, err := dist.ParseRequirement(s)
	if err != nil {
		return nil, err
	}
	if req.Marker != nil {
		holds := false
		envs := []string{""}
		if len(extras) > 0 {
			envs = extras
		}
		for _, e := range envs {
			env := dist.Environment{}
			for k, v := range r.t.Env {
				env[k] = v
			}
			env["extra"] = e
			ok, err := req.Marker.Evaluate(env)
			if err != nil {
				return nil, err
			}
			holds = holds || ok
		}
		if !holds {
			return nil, nil
		}
	}
	if req.URL != "" {
		return nil, fmt.Errorf("direct URL requirements cannot be met offline")
	}
	return []want{{req: req, text: s, by: by, extras: req.Extras}}, nil
}

func (r *resolver) fail(u Unmet) {
	// Keep the first problem met: it is the one nearest the root that the
	// search could not get around.
	if r.problem == nil {
		r.problem = &u
	}
}

func (r *resolver) solve(ctx context.Context, pending []want, st state) (state, bool, error) {
	if len(pending) == 0 {
		return st, true, nil
	}
	if err := ctx.Err(); err != nil {
		return st, false, err
	}
	w, rest := pending[0], pending[1:]
	name := w.req.Name
	if pin, ok := st.pins[name]; ok {
		allowed, err := w.req.Allows(pin.Version, true)
		if err != nil || !allowed {
			return st, false, nil // conflict: backtrack
		}
		st = st.clone()
		st.reqs[name] = append(st.reqs[name], w)
		// New extras of a pinned project bring their dependencies.
		var more []want
		for _, e := range w.extras {
			if st.extras[name] == nil {
				st.extras[name] = map[string]bool{}
			}
			if !st.extras[name][e] {
				st.extras[name][e] = true
				ws, err := r.depsOf(ctx, name, pin, []string{e})
				if err != nil {
					return st, false, err
				}
				more = append(more, ws...)
			}
		}
		return r.solve(ctx, append(rest, more...), st)
	}
	cands, why, err := r.candidates(ctx, name, append(st.reqs[name], w))
	if err != nil {
		return st, false, err
	}
	if len(cands) == 0 {
		why.Requirement = w.text
		if w.by != "the release" {
			why.Reason += " (required by " + w.by + ")"
		}
		r.fail(why)
		return st, false, nil
	}
	for _, c := range cands {
		r.steps++
		if r.steps > r.t.MaxSteps {
			return st, false, ErrTooComplex
		}
		next := st.clone()
		next.pins[name] = Pin{Project: name, Version: c.Version, Filename: c.Filename, SHA256: c.SHA256}
		next.reqs[name] = append(next.reqs[name], w)
		next.extras[name] = map[string]bool{}
		for _, e := range w.extras {
			next.extras[name][e] = true
		}
		deps, err := r.depsOf(ctx, name, next.pins[name], w.extras)
		if err != nil {
			var u Unmet
			if errors.As(err, &u) {
				r.fail(u)
				continue
			}
			return st, false, err
		}
		if out, ok, err := r.solve(ctx, append(append([]want(nil), rest...), deps...), next); err != nil || ok {
			return out, ok, err
		}
	}
	return st, false, nil
}

func (r *resolver) depsOf(ctx context.Context, name string, pin Pin, extras []string) ([]want, error) {
	var c Candidate
	for _, f := range r.files[name] {
		if f.Filename == pin.Filename {
			c = f
		}
	}
	key := c.Filename
	m, ok := r.meta[key]
	if !ok {
		var err error
		m, err = r.idx.Metadata(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("metadata of %s: %w", c.Filename, err)
		}
		r.meta[key] = m
	}
	by := name + " " + pin.Version
	// The index may not say a file's Requires-Python (an old upload, an
	// sdist whose PKG-INFO omits it): the metadata has the last word.
	if ok, err := dist.PythonSatisfies(m.RequiresPython, r.t.PythonVersion); err == nil && !ok {
		return nil, Unmet{Requirement: name, Reason: fmt.Sprintf("%s requires Python %s, not %s", by, m.RequiresPython, r.t.PythonVersion), DeclaredUnsupported: true}
	}
	var out []want
	for _, s := range m.RequiresDist {
		ws, err := r.applicable(s, by, extras)
		if err != nil {
			return nil, Unmet{Requirement: s, Reason: fmt.Sprintf("unusable requirement of %s: %v", by, err)}
		}
		out = append(out, ws...)
	}
	return out, nil
}

// candidates returns the usable files of a project satisfying every
// requirement on it, best first: newest version, then best wheel tag, then
// an sdist. With none, it says why.
func (r *resolver) candidates(ctx context.Context, name string, reqs []want) ([]Candidate, Unmet, error) {
	files, ok := r.files[name]
	if !ok {
		var err error
		files, err = r.idx.Files(ctx, name)
		if errors.Is(err, ErrNoProject) {
			return nil, Unmet{Reason: name + " is not on the index"}, nil
		}
		if err != nil {
			return nil, Unmet{}, fmt.Errorf("files of %s: %w", name, err)
		}
		r.files[name] = files
	}
	type scored struct {
		c    Candidate
		rank int
	}
	byVersion := map[string][]scored{}
	var versions []string
	pyBlocked, tagBlocked, specBlocked := false, false, false
	for _, f := range files {
		allowed := true
		for _, w := range reqs {
			pinned := strings.HasPrefix(strings.TrimSpace(w.req.Specifier), "==")
			if ok, err := w.req.Allows(f.Version, pinned); err != nil || !ok {
				allowed = false
			}
			if f.Yanked && !pinned {
				allowed = false // PEP 592: only an exact pin may take a yanked file
			}
		}
		if !allowed {
			specBlocked = true
			continue
		}
		if ok, err := dist.PythonSatisfies(f.RequiresPython, r.t.PythonVersion); err == nil && !ok {
			pyBlocked = true
			continue
		}
		rank := -1
		if strings.HasSuffix(f.Filename, ".whl") {
			tags, err := dist.WheelTags(f.Filename)
			if err == nil {
				rank = dist.TagRank(tags, r.t.Tags)
			}
		} else if df, err := dist.ParseFilename(f.Filename); err == nil && df.Kind == dist.Sdist && r.t.AllowSdists {
			rank = len(r.t.Tags) + dist.SdistPreference(df.Ext)
		}
		if rank < 0 {
			tagBlocked = true
			continue
		}
		if _, seen := byVersion[f.Version]; !seen {
			versions = append(versions, f.Version)
		}
		byVersion[f.Version] = append(byVersion[f.Version], scored{f, rank})
	}
	sort.Slice(versions, func(i, j int) bool { return dist.CompareVersions(versions[i], versions[j]) > 0 })
	var out []Candidate
	for _, v := range versions {
		s := byVersion[v]
		sort.Slice(s, func(i, j int) bool { return s[i].rank < s[j].rank })
		out = append(out, s[0].c)
	}
	if len(out) > 0 {
		return out, Unmet{}, nil
	}
	var specs []string
	for _, w := range reqs {
		if w.req.Specifier != "" {
			specs = append(specs, w.req.Specifier)
		}
	}
	switch {
	case pyBlocked && !tagBlocked:
		return nil, Unmet{Reason: fmt.Sprintf("every version of %s that fits requires another Python than %s", name, r.t.PythonVersion), DeclaredUnsupported: true}, nil
	case tagBlocked:
		return nil, Unmet{Reason: fmt.Sprintf("no file of %s is compatible with Python %s", name, r.t.PythonVersion)}, nil
	case specBlocked && len(specs) > 0:
		return nil, Unmet{Reason: fmt.Sprintf("no version of %s satisfies %s", name, strings.Join(specs, " and "))}, nil
	}
	return nil, Unmet{Reason: name + " has no usable file"}, nil
}
