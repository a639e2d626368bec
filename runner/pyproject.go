package runner

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// buildRequires returns the normalised names of the requirements in a
// pyproject.toml's [build-system] requires ("setuptools>=61", "flit_core
// >=3.2,<4" give "setuptools", "flit-core"), and whether the file declares
// a build system at all. It reads the one array it needs with a regular
// expression: no TOML library for one field, and nothing of the sdist runs.
func buildRequires(projDir string) ([]string, bool) {
	b, err := os.ReadFile(filepath.Join(projDir, "pyproject.toml"))
	if err != nil {
		return nil, false
	}
	return parseBuildRequires(b)
}

// parseBuildRequires is buildRequires of a pyproject.toml's bytes.
func parseBuildRequires(b []byte) ([]string, bool) {
	if len(b) > 1<<20 {
		return nil, false
	}
	section := buildSystemRE.FindSubmatch(b)
	if section == nil {
		return nil, false
	}
	m := requiresRE.FindSubmatch(section[1])
	if m == nil {
		return nil, true
	}
	var names []string
	for _, q := range quotedRE.FindAllSubmatch(m[1], -1) {
		req := strings.TrimSpace(string(q[1]) + string(q[2]))
		name := reqNameRE.FindString(req)
		if name == "" {
			continue
		}
		names = append(names, normalizeName(name))
	}
	return names, true
}

var (
	buildSystemRE = regexp.MustCompile(`(?ms)^\[build-system\]\s*$(.*?)(?:^\[|\z)`)
	requiresRE    = regexp.MustCompile(`(?ms)^\s*requires\s*=\s*\[(.*?)\]\s*(?:#.*?)?$`)
	quotedRE      = regexp.MustCompile(`"([^"\n]*)"|'([^'\n]*)'`)
	reqNameRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*`)
	separatorsRE  = regexp.MustCompile(`[-_.]+`)
)

// normalizeName is PEP 503's normalisation.
func normalizeName(name string) string {
	return strings.ToLower(separatorsRE.ReplaceAllString(name, "-"))
}
