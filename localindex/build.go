package localindex

// Building the sample projects' distributions without Python. Tests and
// the demo need sdists and wheels of testdata/samples; building them here
// keeps the tests independent of any interpreter's setuptools, and making
// the archives deterministic means a file's sha256 (its identity on the
// index) depends only on the sample, so runs are comparable.

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/dist"
)

// buildEpoch is the mtime of every archive member (in the manner of
// SOURCE_DATE_EPOCH): a constant, so a rebuild gives the same bytes. It is
// after 1980 because zip cannot date anything earlier.
var buildEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// member is one file of an archive being built.
type member struct {
	name string // slash-separated, relative to the archive root
	data []byte
	mode int64 // 0o644, or 0o755 for executables and directories
	dir  bool
}

// WriteSdist builds a deterministic sdist of the sample project in srcDir
// and writes it into dstDir (created if missing) under its PEP 625 name
// (dist.SdistFilename), returning the path. The archive holds one
// directory "{name_}-{version}/" with every file of srcDir (dot-files and
// byte-code caches excepted, as they are not part of a source tree), plus
// "VERSION" (version and a newline, which the samples' setup.py reads) and
// "PKG-INFO" (core metadata 2.1 with Name, Version and the Summary found in
// setup.py's description="..." argument or pyproject.toml's description,
// if written that simply). The
// version is written in canonical form everywhere so the file name, the
// directory and the metadata agree, which pip checks. Members are sorted,
// owned by uid/gid 0, dated buildEpoch, mode 0644 (0755 for directories
// and executables), and the gzip header carries no name or time: the same
// input gives the same bytes.
func WriteSdist(dstDir, srcDir, name, version string) (string, error) {
	filename, prefix, canonical, err := buildNames(name, version)
	if err != nil {
		return "", fmt.Errorf("localindex: write sdist: %w", err)
	}
	filename += ".tar.gz"
	files, err := sourceFiles(srcDir)
	if err != nil {
		return "", fmt.Errorf("localindex: write sdist: %w", err)
	}
	pkgInfo := coreMetadata(name, canonical, setupSummary(files))
	files = slices.DeleteFunc(files, func(m member) bool { return m.name == "VERSION" || m.name == "PKG-INFO" })
	files = append(files,
		member{name: "VERSION", data: []byte(canonical + "\n"), mode: 0o644},
		member{name: "PKG-INFO", data: pkgInfo, mode: 0o644},
	)

	// Every directory gets its own entry (tar extractors create them
	// anyway; listing them fixes their mode too).
	members := []member{{name: prefix + "/", mode: 0o755, dir: true}}
	dirs := map[string]bool{}
	for _, f := range files {
		for d := path.Dir(f.name); d != "."; d = path.Dir(d) {
			if !dirs[d] {
				dirs[d] = true
				members = append(members, member{name: prefix + "/" + d + "/", mode: 0o755, dir: true})
			}
		}
		f.name = prefix + "/" + f.name
		members = append(members, f)
	}
	slices.SortFunc(members, func(a, b member) int { return strings.Compare(a.name, b.name) })

	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf) // zero Header: no name, no mtime
	tw := tar.NewWriter(zw)
	for _, m := range members {
		h := &tar.Header{
			Name:     m.name,
			Mode:     m.mode,
			ModTime:  buildEpoch,
			Typeflag: tar.TypeReg,
			Size:     int64(len(m.data)),
			Format:   tar.FormatPAX,
		}
		if m.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return "", fmt.Errorf("localindex: write sdist: %w", err)
		}
		if _, err := tw.Write(m.data); err != nil {
			return "", fmt.Errorf("localindex: write sdist: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return "", fmt.Errorf("localindex: write sdist: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("localindex: write sdist: %w", err)
	}
	return writeOutput(dstDir, filename, buf.Bytes())
}

// WriteWheel builds a deterministic pure-Python wheel
// "{name_}-{version}-py2.py3-none-any.whl" of the sample project in srcDir
// and writes it into dstDir (created if missing), returning the path. It
// holds the project's importable packages (every top-level directory of
// srcDir with an __init__.py, except tests/, with all their files) and
// modules (every top-level .py file but setup.py and conftest.py, as a
// single-module flit project has), and a
// "{name_}-{version}.dist-info" with METADATA (as the sdist's PKG-INFO),
// WHEEL and RECORD (sha256 digests in unpadded URL-safe base64), the
// dist-info last as the wheel spec recommends. Members are sorted within
// those two groups, dated buildEpoch, mode 0644 or 0755.
func WriteWheel(dstDir, srcDir, name, version string) (string, error) {
	_, prefix, canonical, err := buildNames(name, version)
	if err != nil {
		return "", fmt.Errorf("localindex: write wheel: %w", err)
	}
	filename := prefix + "-py2.py3-none-any.whl"
	files, err := sourceFiles(srcDir)
	if err != nil {
		return "", fmt.Errorf("localindex: write wheel: %w", err)
	}
	packages := map[string]bool{}
	for _, f := range files {
		if pkg, rest, ok := strings.Cut(f.name, "/"); ok && rest == "__init__.py" && pkg != "tests" {
			packages[pkg] = true
		}
	}
	var members []member
	for _, f := range files {
		pkg, _, ok := strings.Cut(f.name, "/")
		module := !ok && strings.HasSuffix(f.name, ".py") && f.name != "setup.py" && f.name != "conftest.py"
		if ok && packages[pkg] || module {
			members = append(members, f)
		}
	}
	if len(members) == 0 {
		return "", fmt.Errorf("localindex: write wheel: no package (directory with __init__.py) or module in %s", srcDir)
	}
	slices.SortFunc(members, func(a, b member) int { return strings.Compare(a.name, b.name) })

	distInfo := prefix + ".dist-info/"
	members = append(members,
		member{name: distInfo + "METADATA", data: coreMetadata(name, canonical, setupSummary(files)), mode: 0o644},
		member{name: distInfo + "WHEEL", data: []byte("Wheel-Version: 1.0\nGenerator: pysmoke localindex\n" +
			"Root-Is-Purelib: true\nTag: py2-none-any\nTag: py3-none-any\n"), mode: 0o644},
	)
	var record bytes.Buffer
	cw := csv.NewWriter(&record) // csv quotes paths with commas, as RECORD requires
	for _, m := range members {
		sum := sha256.Sum256(m.data)
		cw.Write([]string{m.name, "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]), strconv.Itoa(len(m.data))})
	}
	cw.Write([]string{distInfo + "RECORD", "", ""})
	cw.Flush()
	if err := cw.Error(); err != nil {
		return "", fmt.Errorf("localindex: write wheel: %w", err)
	}
	members = append(members, member{name: distInfo + "RECORD", data: record.Bytes(), mode: 0o644})

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate, Modified: buildEpoch}
		h.SetMode(fs.FileMode(m.mode))
		w, err := zw.CreateHeader(h)
		if err != nil {
			return "", fmt.Errorf("localindex: write wheel: %w", err)
		}
		if _, err := w.Write(m.data); err != nil {
			return "", fmt.Errorf("localindex: write wheel: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("localindex: write wheel: %w", err)
	}
	return writeOutput(dstDir, filename, buf.Bytes())
}

// buildNames validates name and version and returns the sdist file name
// without extension, the archive prefix "{name_}-{version}" (the same
// string; it is also the wheel's and dist-info's stem) and the canonical
// version.
func buildNames(name, version string) (stem, prefix, canonical string, err error) {
	if _, err := dist.NormalizeValid(name); err != nil {
		return "", "", "", err
	}
	v, err := dist.ParseVersion(version)
	if err != nil {
		return "", "", "", err
	}
	stem = strings.TrimSuffix(dist.SdistFilename(name, version), ".tar.gz")
	return stem, stem, v.Canonical(), nil
}

// sourceFiles reads the regular files under srcDir, skipping dot-files and
// dot-directories, __pycache__ and compiled byte-code (left behind by a
// test run, they would make the archive depend on history). Symlinks are
// skipped too: an archive that depends on their targets is not
// reproducible.
func sourceFiles(srcDir string) ([]member, error) {
	var out []member
	fsys := os.DirFS(srcDir)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		base := d.Name()
		if p != "." && (strings.HasPrefix(base, ".") || base == "__pycache__") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() || strings.HasSuffix(base, ".pyc") || strings.HasSuffix(base, ".pyo") {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := int64(0o644)
		if info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		out = append(out, member{name: p, data: data, mode: mode})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// descriptionArg finds description="..." (not long_description) with a
// plain string literal; anything cleverer is left alone.
var descriptionArg = regexp.MustCompile(`(?m)(?:^|[\s,(])description\s*=\s*(?:"([^"\\\n]*)"|'([^'\\\n]*)')`)

// setupSummary is the summary written in setup.py, else in pyproject.toml
// ([project] description = "..." reads the same), or "".
func setupSummary(files []member) string {
	for _, name := range []string{"setup.py", "pyproject.toml"} {
		for _, f := range files {
			if f.name != name {
				continue
			}
			if m := descriptionArg.FindSubmatch(f.data); m != nil {
				return string(m[1]) + string(m[2])
			}
		}
	}
	return ""
}

// coreMetadata renders PKG-INFO / METADATA.
func coreMetadata(name, version, summary string) []byte {
	s := "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n"
	if summary != "" {
		s += "Summary: " + summary + "\n"
	}
	return []byte(s)
}

// writeOutput writes a built archive into dstDir atomically (so an index
// watching dstDir never hashes half of it) and returns its path.
func writeOutput(dstDir, filename string, data []byte) (string, error) {
	if err := os.MkdirAll(dstDir, 0o755); err != nil {
		return "", fmt.Errorf("localindex: %w", err)
	}
	if err := writeFileAtomic(dstDir, filename, data, time.Now()); err != nil {
		return "", fmt.Errorf("localindex: write %s: %w", filename, err)
	}
	return filepath.Join(dstDir, filename), nil
}
