package dist

// PEP 508 dependency specifiers: "name[extra1,extra2] (>=1.0,<2); marker",
// with environment markers evaluated for one interpreter, so that the
// dependencies a release needs can be worked out per Python without running
// any of its code.

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	pep440 "github.com/aquasecurity/go-pep440-version"
)

// Requirement is a parsed PEP 508 dependency specifier.
type Requirement struct {
	Name      string   // normalised
	Extras    []string // normalised
	Specifier string   // e.g. ">=1.0,<2"; empty for any version
	URL       string   // for "name @ url" requirements
	Marker    *Marker  // nil when the requirement always applies
}

var reqHead = regexp.MustCompile(`^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*`)

// ErrBadRequirement reports a requirement string that does not parse.
var ErrBadRequirement = errors.New("bad requirement")

// ParseRequirement parses one PEP 508 requirement.
func ParseRequirement(s string) (Requirement, error) {
	bad := func(why string) (Requirement, error) {
		return Requirement{}, fmt.Errorf("%w %q: %s", ErrBadRequirement, s, why)
	}
	spec, markerText, hasMarker := cutMarker(s)
	m := reqHead.FindStringSubmatch(spec)
	if m == nil {
		return bad("no project name")
	}
	r := Requirement{Name: Normalize(m[1])}
	rest := spec[len(m[0]):]
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return bad("unclosed extras")
		}
		for _, e := range strings.Split(rest[1:end], ",") {
			e = strings.TrimSpace(e)
			if e == "" {
				continue
			}
			if !ValidName(e) {
				return bad("bad extra " + e)
			}
			r.Extras = append(r.Extras, Normalize(e))
		}
		rest = strings.TrimSpace(rest[end+1:])
	}
	switch {
	case strings.HasPrefix(rest, "@"):
		r.URL = strings.TrimSpace(rest[1:])
		if r.URL == "" {
			return bad("empty URL")
		}
	default:
		v := strings.TrimSpace(rest)
		if strings.HasPrefix(v, "(") {
			if !strings.HasSuffix(v, ")") {
				return bad("unclosed version parenthesis")
			}
			v = strings.TrimSpace(v[1 : len(v)-1])
		}
		if v != "" {
			// Read as Allows will read it, each version in canonical
			// form: the library takes ">0a.*" as written but refuses
			// it as ">0a0.*", and a requirement that is accepted must
			// be one whose versions can be judged.
			if _, err := specifiers(v); err != nil {
				return bad("bad version specifier " + v)
			}
		}
		r.Specifier = v
	}
	if hasMarker {
		mk, err := ParseMarker(markerText)
		if err != nil {
			return Requirement{}, fmt.Errorf("%w %q: %v", ErrBadRequirement, s, err)
		}
		r.Marker = mk
	}
	return r, nil
}

// cutMarker splits "spec ; marker". In a URL requirement the marker needs
// whitespace before the ';' (PEP 508), since URLs may hold ';'.
func cutMarker(s string) (string, string, bool) {
	if at := strings.IndexByte(s, '@'); at >= 0 {
		if i := strings.Index(s[at:], " ;"); i >= 0 {
			return s[:at+i], s[at+i+2:], true
		}
		return s, "", false
	}
	spec, marker, ok := strings.Cut(s, ";")
	return spec, marker, ok
}

// Allows reports whether a version satisfies the requirement's specifier.
// Pre-releases satisfy only when allowPre is set (or the specifier names
// one), as installers do by default.
func (r Requirement) Allows(version string, allowPre bool) (bool, error) {
	v, err := pep440.Parse(version)
	if err != nil {
		return false, fmt.Errorf("version %q: %w", version, err)
	}
	// A specifier that names a pre-release lets pre-releases in (PEP 440).
	if v.IsPreRelease() && !allowPre && !mentionsPrerelease(r.Specifier) {
		return false, nil
	}
	if r.Specifier == "" {
		return true, nil
	}
	ss, err := specifiers(r.Specifier)
	if err != nil {
		return false, fmt.Errorf("specifier %q: %w", r.Specifier, err)
	}
	return ss.Check(v), nil
}

// specifierOps are PEP 440's comparison operators, and the library's "=",
// longest first.
var specifierOps = []string{"===", "~=", "==", "!=", "<=", ">=", "<", ">", "="}

// specifiers reads a specifier set to check versions against, pre-releases
// included, with each clause's version in canonical form first: the
// library compares the release segments of "~=" and "==X.*" as strings, so
// "~=02.0" would not admit 2.12 ("02" is not "2"). "===" compares strings
// by definition and is left as written, and so is a clause that does not
// parse, for the library to refuse.
func specifiers(spec string) (pep440.Specifiers, error) {
	clauses := strings.Split(spec, ",")
	for i, c := range clauses {
		c = strings.TrimSpace(c)
		op := ""
		for _, o := range specifierOps {
			if strings.HasPrefix(c, o) {
				op = o
				break
			}
		}
		if op == "===" {
			continue
		}
		ver := strings.TrimSpace(c[len(op):])
		wild := strings.HasSuffix(ver, ".*")
		v, err := pep440.Parse(strings.TrimSuffix(ver, ".*"))
		if err != nil {
			continue
		}
		clauses[i] = op + v.String()
		if wild {
			clauses[i] += ".*"
		}
	}
	return pep440.NewSpecifiers(strings.Join(clauses, ","), pep440.WithPreRelease(true))
}

func mentionsPrerelease(spec string) bool {
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimLeft(strings.TrimSpace(part), "<>=!~ ")
		if v, err := pep440.Parse(strings.TrimSuffix(part, ".*")); err == nil && v.IsPreRelease() {
			return true
		}
	}
	return false
}

// PythonSatisfies reports whether a Python version (e.g. "3.12.1")
// satisfies a Requires-Python specifier; an empty specifier allows all.
func PythonSatisfies(requiresPython, pythonVersion string) (bool, error) {
	requiresPython = strings.TrimSpace(requiresPython)
	if requiresPython == "" {
		return true, nil
	}
	v, err := pep440.Parse(pythonVersion)
	if err != nil {
		return false, fmt.Errorf("python version %q: %w", pythonVersion, err)
	}
	ss, err := specifiers(requiresPython)
	if err != nil {
		return false, fmt.Errorf("Requires-Python %q: %w", requiresPython, err)
	}
	return ss.Check(v), nil
}

// Environment holds the values of the marker variables for one
// interpreter ("python_version", "sys_platform", "extra", ...).
type Environment map[string]string

// Marker is a parsed environment marker expression.
type Marker struct {
	expr markerNode
	text string
}

func (m *Marker) String() string { return m.text }

// Evaluate evaluates the marker in env. A variable env lacks is an error,
// except "extra", which is empty when not given.
func (m *Marker) Evaluate(env Environment) (bool, error) {
	return m.expr.eval(env)
}

type markerNode interface {
	eval(Environment) (bool, error)
}

type markerOr struct{ a, b markerNode }
type markerAnd struct{ a, b markerNode }
type markerCmp struct {
	left, op, right string
	leftVar, rightV bool
}

func (n markerOr) eval(env Environment) (bool, error) {
	a, err := n.a.eval(env)
	if err != nil || a {
		return a, err
	}
	return n.b.eval(env)
}

func (n markerAnd) eval(env Environment) (bool, error) {
	a, err := n.a.eval(env)
	if err != nil || !a {
		return a, err
	}
	return n.b.eval(env)
}

var markerVars = map[string]bool{
	"python_version": true, "python_full_version": true, "os_name": true, "sys_platform": true,
	"platform_release": true, "platform_system": true, "platform_version": true, "platform_machine": true,
	"platform_python_implementation": true, "implementation_name": true, "implementation_version": true,
	"extra": true,
	// Legacy spellings still found in old metadata (PEP 345).
	"os.name": true, "sys.platform": true, "platform.version": true, "platform.machine": true,
	"platform.python_implementation": true, "python_implementation": true,
}

var legacyVar = map[string]string{
	"os.name": "os_name", "sys.platform": "sys_platform", "platform.version": "platform_version",
	"platform.machine": "platform_machine", "platform.python_implementation": "platform_python_implementation",
	"python_implementation": "platform_python_implementation",
}

func (n markerCmp) eval(env Environment) (bool, error) {
	value := func(s string, isVar bool) (string, error) {
		if !isVar {
			return s, nil
		}
		if l, ok := legacyVar[s]; ok {
			s = l
		}
		v, ok := env[s]
		if !ok && s != "extra" {
			return "", fmt.Errorf("marker variable %s not known for this interpreter", s)
		}
		return v, nil
	}
	l, err := value(n.left, n.leftVar)
	if err != nil {
		return false, err
	}
	r, err := value(n.right, n.rightV)
	if err != nil {
		return false, err
	}
	if n.left == "extra" || n.right == "extra" {
		// Extras compare by normalised name (PEP 685).
		l, r = Normalize(l), Normalize(r)
	}
	switch n.op {
	case "in":
		return strings.Contains(r, l), nil
	case "not in":
		return !strings.Contains(r, l), nil
	}
	// Version comparison when the right side is a version, as the
	// packaging library does; strings otherwise.
	if _, verr := pep440.Parse(l); verr == nil {
		if ss, err := specifiers(n.op + r); err == nil {
			v, _ := pep440.Parse(l)
			return ss.Check(v), nil
		}
	}
	switch n.op {
	case "==", "===":
		return l == r, nil
	case "!=":
		return l != r, nil
	}
	return false, fmt.Errorf("cannot compare %q %s %q", l, n.op, r)
}

// ParseMarker parses an environment marker expression.
func ParseMarker(s string) (*Marker, error) {
	p := &markerParser{toks: tokenizeMarker(s)}
	if p.toks == nil {
		return nil, fmt.Errorf("marker %q: bad token", s)
	}
	n, err := p.or()
	if err != nil {
		return nil, fmt.Errorf("marker %q: %w", s, err)
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("marker %q: unexpected %q", s, p.toks[p.pos].text)
	}
	return &Marker{expr: n, text: strings.TrimSpace(s)}, nil
}

type markerTok struct {
	text   string
	quoted bool
}

var markerOps = []string{"===", "==", "!=", "<=", ">=", "~=", "<", ">"}

// tokenizeMarker splits a marker into tokens; nil on an unclosed quote or
// a stray character.
func tokenizeMarker(s string) []markerTok {
	toks := []markerTok{}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')':
			toks = append(toks, markerTok{text: string(c)})
			i++
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil
			}
			toks = append(toks, markerTok{text: s[i+1 : i+1+j], quoted: true})
			i += j + 2
		default:
			matched := false
			for _, op := range markerOps {
				if strings.HasPrefix(s[i:], op) {
					toks = append(toks, markerTok{text: op})
					i += len(op)
					matched = true
					break
				}
			}
			if matched {
				continue
			}
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '_' || s[j] == '.') {
				j++
			}
			if j == i {
				return nil
			}
			toks = append(toks, markerTok{text: s[i:j]})
			i = j
		}
	}
	return toks
}

type markerParser struct {
	toks []markerTok
	pos  int
}

func (p *markerParser) peek() (markerTok, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return markerTok{}, false
}

func (p *markerParser) keyword(k string) bool {
	t, ok := p.peek()
	if ok && !t.quoted && t.text == k {
		p.pos++
		return true
	}
	return false
}

func (p *markerParser) or() (markerNode, error) {
	n, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		m, err := p.and()
		if err != nil {
			return nil, err
		}
		n = markerOr{n, m}
	}
	return n, nil
}

func (p *markerParser) and() (markerNode, error) {
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		m, err := p.expr()
		if err != nil {
			return nil, err
		}
		n = markerAnd{n, m}
	}
	return n, nil
}

func (p *markerParser) expr() (markerNode, error) {
	if p.keyword("(") {
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.keyword(")") {
			return nil, errors.New("missing )")
		}
		return n, nil
	}
	left, lv, err := p.value()
	if err != nil {
		return nil, err
	}
	var op string
	switch {
	case p.keyword("in"):
		op = "in"
	case p.keyword("not"):
		if !p.keyword("in") {
			return nil, errors.New(`"not" without "in"`)
		}
		op = "not in"
	default:
		t, ok := p.peek()
		if !ok || t.quoted || !isMarkerOp(t.text) {
			return nil, errors.New("expected a comparison")
		}
		op = t.text
		p.pos++
	}
	right, rv, err := p.value()
	if err != nil {
		return nil, err
	}
	return markerCmp{left: left, op: op, right: right, leftVar: lv, rightV: rv}, nil
}

func isMarkerOp(s string) bool {
	for _, op := range markerOps {
		if s == op {
			return true
		}
	}
	return false
}

func (p *markerParser) value() (string, bool, error) {
	t, ok := p.peek()
	if !ok {
		return "", false, errors.New("unexpected end")
	}
	p.pos++
	if t.quoted {
		return t.text, false, nil
	}
	if !markerVars[t.text] {
		return "", false, fmt.Errorf("unknown marker variable %q", t.text)
	}
	return t.text, true, nil
}
