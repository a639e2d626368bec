package runner

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pysmoke/pysmoke/outcome"
)

// requiresPython returns what an unpacked sdist declares of the Pythons it
// supports ("" when nothing): the Requires-Python field of its PKG-INFO,
// where setup.py's python_requires and pyproject.toml's requires-python
// end up; failing that (a PKG-INFO written by another tool), a
// requires-python of pyproject.toml or a python_requires="..." of setup.py
// written as a plain string. Nothing of the sdist is run to find out.
func requiresPython(projDir string) string {
	if rp := pkgInfoRequiresPython(projDir); rp != "" {
		return rp
	}
	for _, src := range []struct {
		file string
		re   *regexp.Regexp
	}{
		{"pyproject.toml", regexp.MustCompile(`(?m)^\s*requires-python\s*=\s*["']([^"'\r\n]+)["']`)},
		{"setup.py", regexp.MustCompile(`\bpython_requires\s*=\s*["']([^"'\r\n]+)["']`)},
	} {
		b, err := os.ReadFile(filepath.Join(projDir, src.file))
		if err != nil || len(b) > 1<<20 {
			continue
		}
		if m := src.re.FindSubmatch(b); m != nil {
			return strings.TrimSpace(string(m[1]))
		}
	}
	return ""
}

// pythonClassifierRE is a classifier naming one minor version.
var pythonClassifierRE = regexp.MustCompile(`^Programming Language :: Python :: ([0-9]{1,2}\.[0-9]{1,3})$`)

// claims reads what an unpacked sdist claims of the Pythons it supports:
// its Requires-Python (requiresPython) and the minor versions its
// classifiers name in PKG-INFO. Nothing of the sdist runs.
func claims(projDir string) outcome.Claims {
	c := outcome.Claims{RequiresPython: requiresPython(projDir)}
	f, err := os.Open(filepath.Join(projDir, "PKG-INFO"))
	if err != nil {
		return c
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 4<<20))
	sc.Split(scanMetadataLines)
	for sc.Scan() && len(c.Classifiers) < 64 {
		line := sc.Text()
		if line == "" {
			break // the headers end; the long description follows
		}
		if v, ok := strings.CutPrefix(line, "Classifier:"); ok {
			if m := pythonClassifierRE.FindStringSubmatch(strings.TrimSpace(v)); m != nil && !slices.Contains(c.Classifiers, m[1]) {
				c.Classifiers = append(c.Classifiers, m[1])
			}
		}
	}
	return c
}

func pkgInfoRequiresPython(projDir string) string {
	f, err := os.Open(filepath.Join(projDir, "PKG-INFO"))
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Split(scanMetadataLines)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break // the headers end; the long description follows
		}
		if v, ok := strings.CutPrefix(line, "Requires-Python:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// scanMetadataLines is bufio.ScanLines that also ends a line at a lone
// "\r", as Python's email parser, which reads PKG-INFO, does: a value
// never holds a line break, and a file with old Mac line ends reads too.
func scanMetadataLines(data []byte, atEOF bool) (int, []byte, error) {
	i := bytes.IndexAny(data, "\r\n")
	switch {
	case i < 0 && atEOF && len(data) > 0:
		return len(data), data, nil
	case i < 0:
		return 0, nil, nil
	case data[i] == '\n':
		return i + 1, data[:i], nil
	case i+1 < len(data) && data[i+1] == '\n':
		return i + 2, data[:i], nil
	case i+1 < len(data) || atEOF:
		return i + 1, data[:i], nil
	}
	return 0, nil, nil // a "\r" at the end: is "\n" next?
}

// allowsPython reports whether the PEP 440 specifier set spec (">=3.8",
// ">=2.7, !=3.0.*, <4") admits the interpreter version ("3.7.16"). Only
// release numbers are compared, which is all Requires-Python uses in
// practice. A specifier it cannot read is an error, even where a clause
// read before the unreadable one excludes the interpreter: the interpreter
// is then not declared unsupported.
func allowsPython(spec, version string) (bool, error) {
	v := releaseOf(version)
	if v == nil {
		return false, fmt.Errorf("odd interpreter version %q", version)
	}
	allowed := true
	for _, clause := range strings.Split(spec, ",") {
		clause = strings.TrimSpace(clause)
		if clause == "" {
			continue
		}
		op := ""
		for _, o := range []string{"===", "~=", "==", "!=", "<=", ">=", "<", ">"} {
			if strings.HasPrefix(clause, o) {
				op = o
				break
			}
		}
		if op == "" {
			return false, fmt.Errorf("Requires-Python %q: no operator in %q", spec, clause)
		}
		arg := strings.TrimSpace(clause[len(op):])
		wild := strings.HasSuffix(arg, ".*")
		want := releaseOf(strings.TrimSuffix(arg, ".*"))
		if want == nil || (wild && op != "==" && op != "!=") {
			return false, fmt.Errorf("Requires-Python %q: cannot read %q", spec, clause)
		}
		var ok bool
		switch op {
		case "==", "===":
			if wild {
				ok = hasPrefix(v, want)
			} else {
				ok = compareRelease(v, want) == 0
			}
		case "!=":
			if wild {
				ok = !hasPrefix(v, want)
			} else {
				ok = compareRelease(v, want) != 0
			}
		case "<=":
			ok = compareRelease(v, want) <= 0
		case ">=":
			ok = compareRelease(v, want) >= 0
		case "<":
			ok = compareRelease(v, want) < 0
		case ">":
			ok = compareRelease(v, want) > 0
		case "~=":
			if len(want) < 2 {
				return false, fmt.Errorf("Requires-Python %q: ~= needs two numbers", spec)
			}
			ok = compareRelease(v, want) >= 0 && hasPrefix(v, want[:len(want)-1])
		}
		allowed = allowed && ok
	}
	return allowed, nil
}

// python2Releases are the first and the last release of each Python 2
// minor version: a Requires-Python that admits none of them admits no
// Python 2 (no specifier in use singles out a release in between).
var python2Releases = []string{
	"2.0", "2.0.1", "2.1", "2.1.3", "2.2", "2.2.3", "2.3", "2.3.7",
	"2.4", "2.4.6", "2.5", "2.5.6", "2.6", "2.6.9", "2.7", "2.7.18",
}

// excludesPython2 reports whether the Requires-Python spec admits no
// Python 2 release. An empty or unreadable spec excludes nothing.
func excludesPython2(spec string) bool {
	if strings.TrimSpace(spec) == "" {
		return false
	}
	for _, v := range python2Releases {
		if ok, err := allowsPython(spec, v); err != nil || ok {
			return false
		}
	}
	return true
}

// releaseOf parses "3.8" or "3.8.1" (nil for anything else, pre-releases
// included).
func releaseOf(s string) []int {
	var out []int
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil
		}
		out = append(out, n)
	}
	return out
}

func compareRelease(a, b []int) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func hasPrefix(v, prefix []int) bool {
	for i, p := range prefix {
		x := 0
		if i < len(v) {
			x = v[i]
		}
		if x != p {
			return false
		}
	}
	return true
}
