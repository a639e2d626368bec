package runner

// The 2to3 step converts the modules the distribution ships, not whatever
// lies in the sdist (helper scripts, documentation tooling, benchmarks):
//
//   - what the wheel the job built contains: its .py files (those of its
//     .data/purelib and platlib too), taken out of the wheel inside the
//     sandbox and converted there;
//   - where no wheel was built, the packages and modules the sdist's
//     layout shows (folders with an __init__.py at its top or under src/,
//     and modules at its top), less tests and the project's tooling. The
//     sdist's metadata names no module, and its setup.py cannot be read
//     without running it: the layout, read on the host at unpacking
//     (before anything of the sdist ran), is what is left.

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pysmoke/pysmoke/sandbox"
)

// notShipped are top-level folders and modules of an sdist that are not
// the distribution's: its tests, documentation and tooling.
var notShipped = map[string]bool{
	"setup.py": true, "conftest.py": true, "noxfile.py": true, "fabfile.py": true, "tasks.py": true,
	"tests": true, "test": true, "testing": true, "docs": true, "doc": true, "examples": true,
	"benchmarks": true, "bench": true, "scripts": true, "tools": true, "build": true,
}

// shippedSource is the fallback's list: paths relative to the project
// folder, sorted.
func shippedSource(projDir string) []string {
	var out []string
	isPackage := func(dir string) bool {
		fi, err := os.Lstat(filepath.Join(dir, "__init__.py"))
		return err == nil && fi.Mode().IsRegular()
	}
	ents, _ := os.ReadDir(projDir)
	for _, e := range ents {
		n := e.Name()
		switch {
		case notShipped[n] || strings.HasPrefix(n, "."):
		case e.IsDir() && isPackage(filepath.Join(projDir, n)):
			out = append(out, n)
		case e.Type().IsRegular() && strings.HasSuffix(n, ".py") && !strings.HasPrefix(n, "test_") && !strings.HasSuffix(n, "_test.py"):
			out = append(out, n)
		}
	}
	src, _ := os.ReadDir(filepath.Join(projDir, "src"))
	for _, e := range src {
		n := e.Name()
		switch {
		case notShipped[n] || strings.HasPrefix(n, "."):
		case e.IsDir() && isPackage(filepath.Join(projDir, "src", n)):
			out = append(out, "src/"+n)
		case e.Type().IsRegular() && strings.HasSuffix(n, ".py"):
			out = append(out, "src/"+n)
		}
	}
	slices.Sort(out)
	return out
}

// noModulesExit is the exit status of the 2to3 command when there is no
// module to convert (a wheel of C extensions only).
const noModulesExit = 66

// twoToThreeScript converts: $0 is the interpreter, $1 the output
// folder, $2 "compile" to byte-compile the result (on Python 3, to prove
// it), $3 extractScript, $4 packScript, $5 the built wheel ("" for none),
// and the rest the sdist's shipped paths (relative to the working folder,
// the project). The converted tree is left in the output folder packed
// (twoToThreeTree). It exits 66 (noModulesExit) when there is nothing to
// convert.
const twoToThreeScript = `set -e
py="$0"; out="$1"; compile="$2"; extract="$3"; pack="$4"; wheel="$5"; shift 5
if [ -n "$wheel" ]; then
	src=$(mktemp -d ` + sandbox.BuildRoot + `/2to3.XXXXXX)
	"$py" -c "$extract" "$wheel" "$src"
	cd "$src"
	set -- .
	[ -n "$(find . -name '*.py' -print -quit)" ] || { echo "pysmoke: the built wheel ships no Python module"; exit 66; }
else
	[ $# -gt 0 ] || { echo "pysmoke: no package or module in the sdist's layout"; exit 66; }
	echo "pysmoke: no wheel was built: converting what the sdist's layout shows: $*"
	# Laid out as a wheel would install them (src/ dropped), so that the
	# tree compares with those converted from wheels.
	src=$(mktemp -d ` + sandbox.BuildRoot + `/2to3.XXXXXX)
	for p in "$@"; do cp -R "$p" "$src/${p#src/}"; done
	cd "$src"
	set -- .
fi
conv=$(mktemp -d ` + sandbox.BuildRoot + `/2to3-out.XXXXXX)
"$py" -m lib2to3 --output-dir="$conv" --write-unchanged-files --nobackups --write "$@"
if [ "$compile" = compile ]; then
	echo "pysmoke: byte-compiling the converted tree"
	"$py" -m compileall -q "$conv"
fi
"$py" -c "$pack" "$conv" "$out/` + twoToThreeTree + `"
`

// twoToThreeTree is the archive of the converted tree the 2to3 step
// leaves: its one artifact, kept and diffed like the built archives.
const twoToThreeTree = "2to3-tree.tar.gz"

// packScript packs the converted .py files of a folder (argv[1]) into a
// tar.gz (argv[2]), inside the sandbox (the host reads only the archive,
// as it reads every archive a step leaves): sorted, dated 0, owned by
// root, mode 0644, gzip without a name or time, so that the same tree
// packs to the same bytes; Python 2 and 3.
const packScript = `import gzip, io, os, sys, tarfile
src, dest = sys.argv[1], sys.argv[2]
names = []
for root, dirs, files in os.walk(src):
    dirs[:] = [d for d in dirs if d != "__pycache__"]
    for f in files:
        if f.endswith(".py"):
            names.append(os.path.relpath(os.path.join(root, f), src).replace(os.sep, "/"))
names.sort()
raw = open(dest, "wb")
gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)
tar = tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT)
for n in names:
    with open(os.path.join(src, n), "rb") as f:
        data = f.read()
    ti = tarfile.TarInfo(n)
    ti.size, ti.mtime, ti.mode, ti.uid, ti.gid, ti.uname, ti.gname = len(data), 0, 0o644, 0, 0, "", ""
    tar.addfile(ti, io.BytesIO(data))
tar.close()
gz.close()
raw.close()
print("pysmoke: the converted tree: %d files in %s" % (len(names), os.path.basename(dest)))
`

// extractScript takes the .py files of a wheel (argv[1]) out into a
// folder (argv[2]), inside the sandbox; Python 2 and 3.
const extractScript = `import os, sys, zipfile
whl, dest = sys.argv[1], sys.argv[2]
n = 0
z = zipfile.ZipFile(whl)
for name in z.namelist():
    parts = name.split("/")
    if not name.endswith(".py") or parts[0].endswith(".dist-info"):
        continue
    if parts[0].endswith(".data"):
        if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
            continue
        parts = parts[2:]
    if any(p in ("", ".", "..") for p in parts):
        continue
    target = os.path.join(dest, *parts)
    if not os.path.isdir(os.path.dirname(target)):
        os.makedirs(os.path.dirname(target))
    with open(target, "wb") as f:
        f.write(z.read(name))
    n += 1
print("pysmoke: converting the built wheel's %d Python files" % n)
`
