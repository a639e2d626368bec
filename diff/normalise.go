package diff

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// normaliser rewrites each side's member paths so that what legitimately
// differs between the two reads the same: the interpreter that built it
// (python3.11/, py3.11.egg-info, cpython-311, cp311, lib.linux-x86_64-3.11,
// the prefix 3.11.7) and the release's "name-version" folder. It records
// which rewrites changed something.
type normaliser struct {
	a, b []rewrite
	used map[string]bool
}

type rewrite struct {
	re   *regexp.Regexp
	with string
	what string // what the report says was normalised
}

// sitePackages stands for a bdist's install prefix in normalised paths.
const sitePackages = "{site-packages}/"

func newNormaliser(a, b Side) *normaliser {
	n := &normaliser{used: map[string]bool{}}
	// Only what differs between the sides is normalised: the same
	// Python on both leaves its tags alone.
	if pythonMinor(a.Python) != pythonMinor(b.Python) || a.Python != b.Python {
		what := fmt.Sprintf("the building Python in member paths (%s and %s)", pythonMinor(a.Python), pythonMinor(b.Python))
		n.a = append(n.a, pythonRewrites(a.Python, what)...)
		n.b = append(n.b, pythonRewrites(b.Python, what)...)
		// A wheel that is not universal is tagged with the building
		// Python's major version (py2-none-any, py3-none-any).
		if ma, mb := major(a.Python), major(b.Python); ma != mb && ma != "" && mb != "" {
			what := fmt.Sprintf("the wheel's python tag (py%s and py%s)", ma, mb)
			n.a = append(n.a, rewrite{regexp.MustCompile(`^py` + ma + `-`), "py{X}-", what})
			n.b = append(n.b, rewrite{regexp.MustCompile(`^py` + mb + `-`), "py{X}-", what})
		}
	}
	// Where the build's environment lived (a bdist holds the install
	// prefix: a virtual environment's on Python 3, the interpreter's own
	// on 2.7) and where byte code sits (beside its source on Python 2,
	// in __pycache__ on 3) are the interpreter's, not the release's.
	if a.Python != b.Python {
		prefix := rewrite{regexp.MustCompile(`^(?:.*/)?lib/python[^/]+/(site|dist)-packages/`), sitePackages, "the install prefix in bdist paths"}
		n.a = append(n.a, prefix)
		n.b = append(n.b, prefix)
	}
	if major(a.Python) != major(b.Python) {
		pyc := rewrite{regexp.MustCompile(`(^|/)__pycache__/([^/]+)\.cpython-[^./]+(\.opt-[12])?\.pyc$`), "${1}${2}.pyc", "where byte code sits (__pycache__ on Python 3, beside its source on 2)"}
		n.a = append(n.a, pyc)
		n.b = append(n.b, pyc)
	}
	if a.Version != b.Version && a.Project != "" {
		what := fmt.Sprintf("the release's version in member paths (%s and %s)", a.Version, b.Version)
		n.a = append(n.a, versionRewrites(a.Project, a.Version, what)...)
		n.b = append(n.b, versionRewrites(b.Project, b.Version, what)...)
	}
	return n
}

func major(v string) string {
	m, _, _ := strings.Cut(v, ".")
	return m
}

// pythonRewrites are the forms a Python's version takes in paths.
func pythonRewrites(full, what string) []rewrite {
	parts := strings.SplitN(full, ".", 3)
	if len(parts) < 2 {
		return nil
	}
	minor := parts[0] + "." + parts[1]
	nodot := parts[0] + parts[1]
	q := regexp.QuoteMeta
	var rs []rewrite
	if len(parts) == 3 {
		rs = append(rs, rewrite{regexp.MustCompile(`(^|/|-)` + q(full) + `(/|$)`), "${1}{python}${2}", what})
	}
	return append(rs,
		rewrite{regexp.MustCompile(`python` + q(minor) + `(/|$)`), "python{X.Y}${1}", what},
		rewrite{regexp.MustCompile(`-py` + q(minor) + `(\.egg|\.egg-info|/|$)`), "-py{X.Y}${1}", what},
		rewrite{regexp.MustCompile(`cpython-` + nodot + `(-|\.|$)`), "cpython-{XY}${1}", what},
		rewrite{regexp.MustCompile(`\bcp` + nodot + `\b`), "cp{XY}", what},
		rewrite{regexp.MustCompile(`(lib|temp)\.([a-z0-9_]+-[a-z0-9_]+)-` + q(minor) + `(/|$)`), "${1}.${2}-{X.Y}${3}", what},
	)
}

// versionRewrites are the forms a release's "name-version" takes in
// paths (the sdist's top folder, .egg-info and .dist-info folders).
func versionRewrites(project, version, what string) []rewrite {
	q := regexp.QuoteMeta
	var rs []rewrite
	for _, name := range distNames(project) {
		rs = append(rs, rewrite{regexp.MustCompile(`(^|/)` + q(name) + `-` + q(version) + `([-./]|$)`), "${1}" + name + "-{version}${2}", what})
	}
	return rs
}

// distNames are the spellings a project's name takes in file names
// ("my-pkg", "my_pkg").
func distNames(project string) []string {
	names := []string{project}
	if u := strings.ReplaceAll(project, "-", "_"); u != project {
		names = append(names, u)
	}
	return names
}

func (n *normaliser) forA(p string) string { return n.apply(n.a, p) }
func (n *normaliser) forB(p string) string { return n.apply(n.b, p) }

func (n *normaliser) apply(rs []rewrite, p string) string {
	for _, r := range rs {
		if q := r.re.ReplaceAllString(p, r.with); q != p {
			n.used[r.what] = true
			p = q
		}
	}
	return p
}

// value normalises a metadata value that names the Python (a WHEEL's
// Tag) as paths are.
func (n *normaliser) value(forA bool, v string) string {
	if forA {
		return n.apply(n.a, v)
	}
	return n.apply(n.b, v)
}

// applied lists what was normalised, in a stable order.
func (n *normaliser) applied() []string {
	var out []string
	for what := range n.used {
		out = append(out, what)
	}
	slices.Sort(out)
	return out
}
