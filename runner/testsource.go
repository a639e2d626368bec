package runner

// Where a release's tests take their environment from. Projects declare it
// in one of several places; pysmoke reads them statically, on the host,
// from the unpacked sdist before anything of it ran (a noxfile is code,
// and is not read). The first place that declares a test environment is
// the one used, in this order:
//
//  1. the allowlist's test command (Job.TestCommand; its requirements are
//     then those of the places below);
//  2. PEP 735 [dependency-groups] in pyproject.toml: test, tests,
//     testing, dev;
//  3. tox: tox.ini, [tool.tox] in pyproject.toml (native or
//     legacy_tox_ini), setup.cfg's [tox:tox]: the [testenv] deps (with -r
//     files, extras of the project itself, and lines conditional on the
//     job's Python factor) and extras;
//  4. hatch: [tool.hatch.envs.test], else [tool.hatch.envs.default]:
//     dependencies, extra-dependencies, features;
//  5. the release's test extras (test, tests, testing), read from its
//     built wheel's metadata, with the test requirement files (6).
//
// Each reader is bounded (file sizes, -r depth) and never follows a link.

import (
	"bytes"
	"cmp"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"gopkg.in/ini.v1"

	"github.com/pysmoke/pysmoke/dist"
)

// testSource is what a project declares of its tests' environment.
type testSource struct {
	// From says where it was read, e.g. "tox.ini [testenv]"; "" when the
	// project declares nothing but extras and requirement files.
	From string
	// Requires are PEP 508 requirements (conditional lines already
	// chosen for the job's Python; markers are the resolver's).
	Requires []string
	// Extras are extras of the release itself the tests need
	// (".[test]" in tox deps, tox's extras, hatch's features).
	Extras []string
	// Commands are the project's own test commands (tox commands, hatch
	// scripts), placeholders substituted, as words; run where they map to
	// the test environment (commands.go).
	Commands [][]string
}

// maxConfigBytes caps each configuration file read.
const maxConfigBytes = 1 << 20

// dependencyGroupNames are the PEP 735 groups that hold a test
// environment, in order of preference.
var dependencyGroupNames = []string{"test", "tests", "testing", "dev"}

// readTestSource reads the test environment the project in projDir
// declares, for an interpreter of the given minor version ("3.12").
func readTestSource(projDir, minor string) testSource {
	var py pyprojectTests
	if b, err := readCapped(filepath.Join(projDir, "pyproject.toml"), maxConfigBytes); err == nil {
		py, _ = parsePyprojectTests(b)
	}
	if src, ok := py.groups(); ok {
		return src
	}
	factors := pythonFactors(minor)
	read := func(name string) []byte {
		b, _ := readCapped(filepath.Join(projDir, filepath.FromSlash(name)), maxConfigBytes)
		return b
	}
	if b := read("tox.ini"); b != nil {
		if src, ok := toxSource(b, "", factors, read); ok {
			src.From = "tox.ini " + src.From
			return src
		}
	}
	if src, ok := py.tox(factors, read); ok {
		return src
	}
	if b := read("setup.cfg"); b != nil {
		if src, ok := toxSource(b, "tox:tox", factors, read); ok {
			src.From = "setup.cfg " + src.From
			return src
		}
	}
	if src, ok := py.hatch(); ok {
		return src
	}
	return testSource{Requires: testRequirements(projDir)}
}

// pyprojectTests is pyproject.toml as a generic tree: a project's table of
// an unexpected type loses only that table, not the others.
type pyprojectTests struct{ doc map[string]any }

// parsePyprojectTests reads a pyproject.toml for its test declarations.
func parsePyprojectTests(b []byte) (pyprojectTests, error) {
	if len(b) > maxConfigBytes {
		return pyprojectTests{}, fmt.Errorf("pyproject.toml: larger than %d bytes", maxConfigBytes)
	}
	var doc map[string]any
	if _, err := toml.Decode(string(b), &doc); err != nil {
		return pyprojectTests{}, err
	}
	return pyprojectTests{doc}, nil
}

// table returns the table at the dotted path of keys (nil if none).
func table(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			return nil
		}
		m = next
	}
	return m
}

// stringsOf returns the strings of an array value (nil for anything else).
func stringsOf(v any) []string {
	arr, _ := v.([]any)
	var out []string
	for _, e := range arr {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// groups is the first PEP 735 test group, include-group entries expanded.
func (p pyprojectTests) groups() (testSource, bool) {
	byName := map[string][]any{}
	for name, g := range table(p.doc, "dependency-groups") {
		if arr, ok := g.([]any); ok {
			byName[dist.Normalize(name)] = arr
		}
	}
	for _, name := range dependencyGroupNames {
		if _, ok := byName[name]; !ok {
			continue
		}
		var reqs []string
		expandGroup(byName, name, map[string]bool{}, &reqs)
		return testSource{From: "pyproject.toml [dependency-groups] " + name, Requires: reqs}, true
	}
	return testSource{}, false
}

// expandGroup appends the requirements of group name to reqs, following
// {include-group = "..."} entries (PEP 735) once each.
func expandGroup(groups map[string][]any, name string, seen map[string]bool, reqs *[]string) {
	if seen[name] {
		return
	}
	seen[name] = true
	for _, e := range groups[name] {
		switch v := e.(type) {
		case string:
			*reqs = appendNew(*reqs, requirementsOnly(v)...)
		case map[string]any:
			if inc, ok := v["include-group"].(string); ok {
				expandGroup(groups, dist.Normalize(inc), seen, reqs)
			}
		}
	}
}

// tox reads pyproject.toml's [tool.tox]: the legacy_tox_ini string, else
// the native env_run_base, overridden key by key by env.pyXY for the job's
// Python.
func (p pyprojectTests) tox(factors []string, read func(string) []byte) (testSource, bool) {
	t := table(p.doc, "tool", "tox")
	if t == nil {
		return testSource{}, false
	}
	if legacy, ok := t["legacy_tox_ini"].(string); ok {
		if src, ok := toxSource([]byte(legacy), "", factors, read); ok {
			src.From = "pyproject.toml [tool.tox] legacy_tox_ini " + src.From
			return src, true
		}
	}
	env, from := table(t, "env_run_base"), "env_run_base"
	for _, f := range factors {
		if own := table(t, "env", f); own != nil {
			merged := map[string]any{}
			for k, v := range env {
				merged[k] = v
			}
			for k, v := range own {
				merged[k] = v
			}
			env, from = merged, "env."+f
			break
		}
	}
	deps, extras := stringsOf(env["deps"]), stringsOf(env["extras"])
	if len(deps) == 0 && len(extras) == 0 {
		return testSource{}, false
	}
	src := testSource{From: "pyproject.toml [tool.tox] " + from}
	depLines(&src, strings.Join(deps, "\n"), factors, read, 0)
	for _, e := range extras {
		src.Extras = appendNew(src.Extras, dist.Normalize(e))
	}
	cmds, _ := env["commands"].([]any)
	for _, c := range cmds {
		var words []string
		for _, w := range stringsOf(c) {
			words = append(words, substituteTox(w))
		}
		if len(words) > 0 {
			src.Commands = append(src.Commands, words)
		}
	}
	return src, true
}

// hatch reads [tool.hatch.envs.test] (or tests), which inherits the
// default environment's dependencies, else [tool.hatch.envs.default].
func (p pyprojectTests) hatch() (testSource, bool) {
	envs := table(p.doc, "tool", "hatch", "envs")
	for _, name := range []string{"test", "tests", "default"} {
		e := table(envs, name)
		if e == nil {
			continue
		}
		var reqs []string
		if d := table(envs, "default"); name != "default" && d != nil && e["template"] == nil {
			reqs = appendNew(reqs, requirementsOnly(stringsOf(d["dependencies"])...)...)
		}
		reqs = appendNew(reqs, requirementsOnly(stringsOf(e["dependencies"])...)...)
		reqs = appendNew(reqs, requirementsOnly(stringsOf(e["extra-dependencies"])...)...)
		var extras []string
		for _, f := range stringsOf(e["features"]) {
			extras = appendNew(extras, dist.Normalize(f))
		}
		if len(reqs) == 0 && len(extras) == 0 {
			continue
		}
		src := testSource{From: "pyproject.toml [tool.hatch.envs." + name + "]", Requires: reqs, Extras: extras}
		scripts := table(e, "scripts")
		for _, key := range []string{"test", "tests"} {
			switch s := scripts[key].(type) {
			case string:
				if w := shellWords(hatchArgsRE.ReplaceAllString(s, "$1")); len(w) > 0 {
					src.Commands = append(src.Commands, w)
				}
			case []any:
				for _, c := range stringsOf(s) {
					if w := shellWords(hatchArgsRE.ReplaceAllString(c, "$1")); len(w) > 0 {
						src.Commands = append(src.Commands, w)
					}
				}
			}
		}
		return src, true
	}
	return testSource{}, false
}

// hatchArgsRE matches hatch's {args} placeholder in a script, with its
// default after ":" (what runs when no arguments are given).
var hatchArgsRE = regexp.MustCompile(`\{args(?::([^{}]*))?\}`)

// toxSource reads the [testenv] of a tox configuration in INI form (tox.ini,
// legacy_tox_ini, or setup.cfg, where the sections are [tox:tox] and
// [testenv]); a [testenv:pyXY] section for the job's Python overrides it
// key by key. marker is a section that must exist ("tox:tox" for
// setup.cfg), or "". read reads a file of the project by its path
// relative to the project folder (nil when it cannot).
// loadConfigINI reads an INI file as Python's configparser does for the
// files these projects configure (tox.ini, setup.cfg, pytest.ini).
func loadConfigINI(b []byte) (*ini.File, error) {
	return ini.LoadSources(ini.LoadOptions{
		AllowPythonMultilineValues: true,
		InsensitiveKeys:            true,
		// A ";" or "#" after a space in a value is no comment to
		// configparser: "mock ; python_version < '3.3'" keeps its
		// marker. Comment lines within a value are dropped by its
		// reader (conditionalLines, setupRequires).
		IgnoreInlineComment:     true,
		IgnoreContinuation:      true,
		SkipUnrecognizableLines: true,
		KeyValueDelimiters:      "=:",
		PreserveSurroundedQuote: true,
	}, b)
}

func toxSource(b []byte, marker string, factors []string, read func(string) []byte) (testSource, bool) {
	if len(b) > maxConfigBytes {
		return testSource{}, false
	}
	cfg, err := loadConfigINI(b)
	if err != nil {
		return testSource{}, false
	}
	if marker != "" && !cfg.HasSection(marker) {
		return testSource{}, false
	}
	value := func(key string) (string, string, bool) {
		for _, f := range factors {
			if s, err := cfg.GetSection("testenv:" + f); err == nil && s.HasKey(key) {
				return s.Key(key).String(), "[testenv:" + f + "]", true
			}
		}
		if s, err := cfg.GetSection("testenv"); err == nil && s.HasKey(key) {
			return s.Key(key).String(), "[testenv]", true
		}
		return "", "", false
	}
	deps, fromDeps, okDeps := value("deps")
	extras, fromExtras, okExtras := value("extras")
	cmds, fromCmds, okCmds := value("commands")
	if !okDeps && !okExtras && !okCmds {
		return testSource{}, false
	}
	// Named after the section the deps came from (else the extras', else
	// the commands').
	src := testSource{From: cmp.Or(fromDeps, fromExtras, fromCmds)}
	depLines(&src, deps, factors, read, 0)
	for _, line := range conditionalLines(extras, factors) {
		for _, e := range strings.Split(line, ",") {
			if e = strings.TrimSpace(e); e != "" {
				src.Extras = appendNew(src.Extras, dist.Normalize(e))
			}
		}
	}
	if okCmds {
		for _, line := range conditionalLines(cmds, factors) {
			line = strings.TrimPrefix(strings.TrimSpace(line), "- ")
			if words := shellWords(substituteTox(line)); len(words) > 0 {
				src.Commands = append(src.Commands, words)
			}
		}
	}
	return src, true
}

// depLines adds tox deps lines (or a pip requirements file's, for -r) to
// src: plain requirements, the project's own extras (".[test]", "-e
// .[test]"), and -r files read through read, at most four deep; other
// options (-c constraints, --index-url, paths, URLs) are not followed.
func depLines(src *testSource, text string, factors []string, read func(string) []byte, depth int) {
	for _, line := range conditionalLines(text, factors) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "-r"), strings.HasPrefix(line, "--requirement"):
			file := strings.TrimSpace(strings.TrimLeft(strings.TrimPrefix(strings.TrimPrefix(line, "--requirement"), "-r"), "= "))
			file = path.Clean(strings.TrimPrefix(strings.TrimPrefix(file, "{toxinidir}/"), "./"))
			if depth >= 4 || read == nil || file == "." || strings.HasPrefix(file, "../") || path.IsAbs(file) || strings.Contains(file, "{") {
				continue
			}
			if b := read(file); b != nil {
				depLines(src, string(b), nil, read, depth+1)
			}
		case strings.HasPrefix(line, "-e ") || strings.HasPrefix(line, "--editable"):
			src.Extras = appendNew(src.Extras, selfExtras(strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(line, "--editable"), "-e")))...)
		case strings.HasPrefix(line, "."), strings.HasPrefix(line, "{toxinidir}"):
			src.Extras = appendNew(src.Extras, selfExtras(line)...)
		case strings.HasPrefix(line, "-"), strings.Contains(line, "://"), strings.HasPrefix(line, "/"):
			// An option, a URL or a path: nothing the index can give.
		default:
			if _, err := dist.ParseRequirement(line); err == nil {
				src.Requires = appendNew(src.Requires, line)
			}
		}
	}
}

// selfExtras returns the extras of a reference to the project itself
// (".[test,docs]", "{toxinidir}[test]"); none for anything else.
func selfExtras(ref string) []string {
	ref = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(ref), "{toxinidir}"), ".")
	ref = strings.TrimPrefix(ref, "/")
	open, end := strings.IndexByte(ref, '['), strings.IndexByte(ref, ']')
	if open != 0 || end < open {
		return nil
	}
	var out []string
	for _, e := range strings.Split(ref[open+1:end], ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, dist.Normalize(e))
		}
	}
	return out
}

// toxFactorRE matches tox's factor condition before a line:
// "py27,py36: mock", "!py27: x", "py{37,38}-cov: pytest-cov".
var toxFactorRE = regexp.MustCompile(`^([\w{}.!,-]+):\s+(.*)$`)

// conditionalLines returns the lines of a tox value that apply to an
// environment with the given factors: unconditional lines, and the
// content of conditional ones whose condition holds. Comments (a "#" at
// the start or after a space) and blank lines are dropped; with factors
// nil (a requirements file) no line is conditional.
func conditionalLines(text string, factors []string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if factors != nil {
			if m := toxFactorRE.FindStringSubmatch(line); m != nil {
				if !factorsHold(m[1], factors) {
					continue
				}
				line = strings.TrimSpace(m[2])
			}
		}
		out = append(out, line)
	}
	return out
}

// factorsHold evaluates a tox factor condition: alternatives separated by
// ",", each a "-"-joined conjunction of factors, each maybe negated with
// "!"; braces expand ("py{27,36}" is py27 or py36).
func factorsHold(cond string, factors []string) bool {
	for _, alt := range expandBraces(cond) {
		all := true
		for _, f := range strings.Split(alt, "-") {
			neg := strings.HasPrefix(f, "!")
			has := slices.Contains(factors, strings.TrimPrefix(f, "!"))
			if has == neg {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// expandBraces splits a factor condition into its alternatives, expanding
// each {a,b} group: "py{27,36}-cov,lint" is py27-cov, py36-cov, lint.
func expandBraces(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			switch s[i] {
			case '{':
				depth++
				continue
			case '}':
				depth--
				continue
			case ',':
				if depth > 0 {
					continue
				}
			default:
				continue
			}
		}
		out = append(out, expandOne(s[start:i])...)
		if len(out) > maxAlternatives {
			return out[:maxAlternatives]
		}
		start = i + 1
	}
	return out
}

// maxAlternatives bounds a condition's expansion: braces multiply
// ("{a,b}{c,d}..." doubles with each group), and a condition is the
// package's input.
const maxAlternatives = 256

// expandOne expands the brace groups of one alternative, at most
// maxAlternatives of them.
func expandOne(s string) []string {
	out := []string{s}
	for range 8 {
		var next []string
		grew := false
		for _, a := range out {
			open := strings.IndexByte(a, '{')
			end := strings.IndexByte(a, '}')
			if open < 0 || end < open {
				next = append(next, a)
				continue
			}
			grew = true
			for _, choice := range strings.Split(a[open+1:end], ",") {
				if len(next) >= maxAlternatives {
					break
				}
				next = append(next, a[:open]+choice+a[end+1:])
			}
		}
		out = next
		if !grew {
			break
		}
	}
	return out
}

// pythonFactors are the tox factors an environment for this Python has:
// "py312" and "py3" for 3.12 (tox's own "py312" environment; "py3" for
// projects that name only the major version).
func pythonFactors(minor string) []string {
	major, rest, ok := strings.Cut(minor, ".")
	if !ok {
		return []string{"py"}
	}
	return []string{"py" + major + rest, "py" + major, "py"}
}

// toxPlaceholderRE matches a tox substitution, with a default after ":".
var toxPlaceholderRE = regexp.MustCompile(`\{(\w+)(?::([^{}]*))?\}`)

// substituteTox replaces tox's placeholders in a command for a run from
// the copied tests: {posargs} by its default, {envpython} by python, the
// folders by the current one.
func substituteTox(s string) string {
	// Innermost first: {posargs:{toxinidir}/tests} holds one.
	for range 4 {
		next := substituteToxOnce(s)
		if next == s {
			break
		}
		s = next
	}
	return s
}

func substituteToxOnce(s string) string {
	return toxPlaceholderRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := toxPlaceholderRE.FindStringSubmatch(m)
		switch sub[1] {
		case "posargs":
			return sub[2]
		case "envpython":
			return "python"
		case "toxinidir", "toxworkdir", "envdir", "envsitepackagesdir", "envtmpdir", "envlogdir":
			return "."
		case "envbindir":
			return ""
		}
		return m
	})
}

// shellWords splits a command line into words as tox does (POSIX shell
// quoting: '...' literal, "..." with backslash escapes, \ outside).
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				w.WriteByte(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0:
				i++
				w.WriteByte(s[i])
			default:
				w.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == '\\' && i+1 < len(s):
			i++
			w.WriteByte(s[i])
			in = true
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words
}

// requirementsOnly returns those of reqs that are PEP 508 requirements,
// trimmed: a path, a URL or a typo is nothing the index can give.
func requirementsOnly(reqs ...string) []string {
	var out []string
	for _, r := range reqs {
		r = strings.TrimSpace(r)
		if _, err := dist.ParseRequirement(r); err == nil {
			out = append(out, r)
		}
	}
	return out
}

// appendNew appends those of more that list lacks.
func appendNew(list []string, more ...string) []string {
	for _, s := range more {
		if !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	return list
}

// describe is how the tests step's log names the test environment.
func (s testSource) describe() string {
	var b bytes.Buffer
	from := s.From
	if from == "" {
		from = "the release's test extras and requirement files"
	}
	fmt.Fprintf(&b, "pysmoke: the test environment from %s", from)
	if len(s.Requires) > 0 {
		fmt.Fprintf(&b, ": %s", strings.Join(s.Requires, ", "))
	}
	if len(s.Extras) > 0 {
		fmt.Fprintf(&b, " (the release's extras: %s)", strings.Join(s.Extras, ", "))
	}
	b.WriteString("\n")
	return b.String()
}

// describeCommands is how the tests step's log says which commands run the
// tests.
func (j *job) describeCommands() string {
	switch {
	case j.spec.TestCommand != nil:
		return "pysmoke: the tests run with the allowlist's command\n"
	case len(j.commands) > 0:
		var cmds []string
		for _, c := range j.commands {
			cmds = append(cmds, strings.Join(c.argv, " "))
		}
		return fmt.Sprintf("pysmoke: the tests run with the project's commands (%s): %s\n", j.tests.From, strings.Join(cmds, "; "))
	case j.commandsWhy != "":
		return fmt.Sprintf("pysmoke: the project's commands (%s) are not run: %s\n", j.tests.From, j.commandsWhy)
	}
	return ""
}
