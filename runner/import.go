package runner

// The import step's two halves: which modules a built wheel declares (read
// on the host, from the zip: nothing of the wheel runs), and the script
// that imports them in the sandbox.

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"io/fs"
	"regexp"
	"sort"
	"strings"
)

// importScript imports each module named on its command line and says of
// each whether it did; it exits 1 when any did not, after printing each
// failure's traceback (which the common classification reads: a missing
// module, a removed one, a syntax error). It runs unchanged on Python 2.7
// and every 3.x.
const importScript = `import sys, traceback, importlib
failed = []
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        print("pysmoke: import %s: ok" % name)
    except BaseException:
        failed.append(name)
        print("pysmoke: import %s: failed" % name)
        traceback.print_exc(file=sys.stdout)
    sys.stdout.flush()
if failed:
    print("pysmoke: %d of %d modules failed to import: %s" % (len(failed), len(sys.argv) - 1, ", ".join(failed)))
    sys.exit(1)
`

// moduleName is one dotted module name; anything else a wheel lists is not
// passed on to the sandbox's command line.
var moduleName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// maxRecordBytes caps the RECORD and top_level.txt read from a wheel.
const maxRecordBytes = 16 << 20

// topLevelModules returns the top-level modules a wheel declares, sorted:
// the lines of its .dist-info/top_level.txt (setuptools writes one; "a/b"
// there is the module a.b), else the first component of every module its
// RECORD lists (flit, hatchling and poetry write no top_level.txt): a
// package folder holding Python files, a "name.py", an extension module
// "name.<tag>.so". The .dist-info and .data folders are not modules.
// info reads a file of the wheel's .dist-info.
func topLevelModules(info func(name string, max int64) ([]byte, error)) ([]string, error) {
	var names []string
	b, err := info("top_level.txt", maxRecordBytes)
	switch {
	case err == nil:
		for _, line := range strings.Split(string(b), "\n") {
			names = append(names, strings.ReplaceAll(strings.TrimSpace(line), "/", "."))
		}
	case errors.Is(err, fs.ErrNotExist):
		paths, err := recordPaths(info)
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			names = append(names, recordModule(p))
		}
	default:
		return nil, err
	}
	seen := map[string]bool{}
	var mods []string
	for _, n := range names {
		if moduleName.MatchString(n) && !seen[n] {
			seen[n] = true
			mods = append(mods, n)
		}
	}
	sort.Strings(mods)
	return mods, nil
}

// recordPaths returns the paths a wheel's RECORD lists (info reads a file
// of its .dist-info).
func recordPaths(info func(name string, max int64) ([]byte, error)) ([]string, error) {
	b, err := info("RECORD", maxRecordBytes)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	var out []string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec[0])
	}
}

// recordModule is the top-level module a RECORD path belongs to, or "".
func recordModule(p string) string {
	first, rest, nested := strings.Cut(p, "/")
	switch {
	case strings.HasSuffix(first, ".dist-info"), strings.HasSuffix(first, ".data"), first == "__pycache__":
		return ""
	case nested:
		// A package: only when Python files are in it (a folder of data
		// installed at the top is not importable).
		if isModuleFile(rest) {
			return first
		}
		return ""
	case isModuleFile(first):
		name, _, _ := strings.Cut(first, ".")
		return name
	}
	return ""
}

func isModuleFile(p string) bool {
	return strings.HasSuffix(p, ".py") || strings.HasSuffix(p, ".so") || strings.HasSuffix(p, ".pyd")
}
