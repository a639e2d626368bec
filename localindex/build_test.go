package localindex

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const smokegoodSummary = "A pysmoke sample that builds and passes on 2.7 and every 3.x"

// TestBuildsAreDeterministic builds every sample twice, the second time
// from a copy dirtied the way a test run leaves a source tree, and wants
// the same bytes.
func TestBuildsAreDeterministic(t *testing.T) {
	samples, err := os.ReadDir(samplesDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) == 0 {
		t.Fatal("no samples")
	}
	for _, s := range samples {
		t.Run(s.Name(), func(t *testing.T) {
			src := filepath.Join(samplesDir, s.Name())
			dirty := t.TempDir()
			if err := os.CopyFS(dirty, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			pkg := filepath.Join(dirty, s.Name())
			os.MkdirAll(filepath.Join(pkg, "__pycache__"), 0o755)
			os.WriteFile(filepath.Join(pkg, "__pycache__", "x.cpython-312.pyc"), []byte("bytecode"), 0o644)
			os.WriteFile(filepath.Join(pkg, "old.pyc"), []byte("bytecode"), 0o644)
			os.WriteFile(filepath.Join(dirty, ".coverage"), []byte("data"), 0o644)

			for _, build := range []struct {
				kind string
				fn   func(dst, src, name, version string) (string, error)
			}{{"sdist", WriteSdist}, {"wheel", WriteWheel}} {
				first, err := build.fn(t.TempDir(), src, s.Name(), "1.0")
				if err != nil {
					t.Fatal(err)
				}
				second, err := build.fn(t.TempDir(), dirty, s.Name(), "1.0")
				if err != nil {
					t.Fatal(err)
				}
				a, _ := os.ReadFile(first)
				b, _ := os.ReadFile(second)
				if !bytes.Equal(a, b) {
					t.Errorf("%s: two builds differ (%s vs %s)", build.kind, sha256Hex(a), sha256Hex(b))
				}
			}
		})
	}
}

func TestWriteSdist(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "created")
	path, err := WriteSdist(dst, filepath.Join(samplesDir, "smokegood"), "smokegood", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dst, "smokegood-1.0.tar.gz") {
		t.Errorf("path %s", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Errorf("gzip header has name %q, mtime %v", zr.Name, zr.ModTime)
	}
	tr := tar.NewReader(zr)
	var names []string
	contents := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		wantMode := int64(0o644)
		if h.Typeflag == tar.TypeDir {
			wantMode = 0o755
		}
		if h.Mode != wantMode || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(buildEpoch) {
			t.Errorf("%s: mode %o uid %d gid %d owner %q/%q mtime %v", h.Name, h.Mode, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
		}
		b, _ := io.ReadAll(tr)
		contents[h.Name] = string(b)
	}
	want := []string{
		"smokegood-1.0/",
		"smokegood-1.0/MANIFEST.in",
		"smokegood-1.0/PKG-INFO",
		"smokegood-1.0/VERSION",
		"smokegood-1.0/setup.py",
		"smokegood-1.0/smokegood/",
		"smokegood-1.0/smokegood/__init__.py",
		"smokegood-1.0/tests/",
		"smokegood-1.0/tests/__init__.py",
		"smokegood-1.0/tests/test_mean.py",
	}
	if !slices.Equal(names, want) {
		t.Errorf("members\n%v\nwant\n%v", names, want)
	}
	if got := contents["smokegood-1.0/VERSION"]; got != "1.0\n" {
		t.Errorf("VERSION %q", got)
	}
	wantInfo := "Metadata-Version: 2.1\nName: smokegood\nVersion: 1.0\nSummary: " + smokegoodSummary + "\n"
	if got := contents["smokegood-1.0/PKG-INFO"]; got != wantInfo {
		t.Errorf("PKG-INFO\n%s\nwant\n%s", got, wantInfo)
	}
	src, _ := os.ReadFile(filepath.Join(samplesDir, "smokegood", "setup.py"))
	if contents["smokegood-1.0/setup.py"] != string(src) {
		t.Error("setup.py not copied verbatim")
	}
}

func TestWriteWheel(t *testing.T) {
	path, err := WriteWheel(t.TempDir(), filepath.Join(samplesDir, "smokegood"), "smokegood", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "smokegood-1.0-py2.py3-none-any.whl" {
		t.Errorf("path %s", path)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	contents := map[string][]byte{}
	for _, f := range zr.File {
		names = append(names, f.Name)
		if !f.Modified.Equal(buildEpoch) || f.Mode() != 0o644 {
			t.Errorf("%s: modified %v mode %v", f.Name, f.Modified, f.Mode())
		}
		rc, _ := f.Open()
		contents[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	want := []string{
		"smokegood/__init__.py",
		"smokegood-1.0.dist-info/METADATA",
		"smokegood-1.0.dist-info/WHEEL",
		"smokegood-1.0.dist-info/RECORD",
	}
	if !slices.Equal(names, want) {
		t.Errorf("members %v, want %v (no tests/, dist-info last)", names, want)
	}
	if got := string(contents["smokegood-1.0.dist-info/METADATA"]); !strings.Contains(got, "Summary: "+smokegoodSummary+"\n") ||
		!strings.HasPrefix(got, "Metadata-Version: 2.1\nName: smokegood\nVersion: 1.0\n") {
		t.Errorf("METADATA\n%s", got)
	}
	if got := string(contents["smokegood-1.0.dist-info/WHEEL"]); !strings.Contains(got, "Root-Is-Purelib: true\n") ||
		!strings.Contains(got, "Tag: py2-none-any\nTag: py3-none-any\n") {
		t.Errorf("WHEEL\n%s", got)
	}

	// RECORD lists every other member with its digest and size, itself
	// without either.
	records, err := csv.NewReader(bytes.NewReader(contents["smokegood-1.0.dist-info/RECORD"])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range records {
		seen[r[0]] = true
		if r[0] == "smokegood-1.0.dist-info/RECORD" {
			if r[1] != "" || r[2] != "" {
				t.Errorf("RECORD's own line %v", r)
			}
			continue
		}
		sum := sha256.Sum256(contents[r[0]])
		if want := "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]); r[1] != want {
			t.Errorf("%s: RECORD says %s, want %s", r[0], r[1], want)
		}
		if r[2] != itoa(len(contents[r[0]])) {
			t.Errorf("%s: RECORD size %s", r[0], r[2])
		}
	}
	for _, n := range names {
		if !seen[n] {
			t.Errorf("%s missing from RECORD", n)
		}
	}
}

func TestBuildNames(t *testing.T) {
	src := filepath.Join(samplesDir, "smokegood")
	cases := []struct {
		name, version, sdist, wheel string
	}{
		{"smokegood", "1.0", "smokegood-1.0.tar.gz", "smokegood-1.0-py2.py3-none-any.whl"},
		{"Smoke.Good", "1.0-RC1", "smoke_good-1.0rc1.tar.gz", "smoke_good-1.0rc1-py2.py3-none-any.whl"},
		{"smoke-good", "2.0.post1", "smoke_good-2.0.post1.tar.gz", "smoke_good-2.0.post1-py2.py3-none-any.whl"},
	}
	for _, c := range cases {
		dst := t.TempDir()
		sdist, err := WriteSdist(dst, src, c.name, c.version)
		if err != nil {
			t.Fatal(err)
		}
		wheel, err := WriteWheel(dst, src, c.name, c.version)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(sdist) != c.sdist || filepath.Base(wheel) != c.wheel {
			t.Errorf("%s %s: %s, %s; want %s, %s", c.name, c.version, filepath.Base(sdist), filepath.Base(wheel), c.sdist, c.wheel)
		}
	}
	for _, bad := range [][2]string{{"-bad", "1.0"}, {"ok", "not.a.version!"}, {"", "1.0"}} {
		if _, err := WriteSdist(t.TempDir(), src, bad[0], bad[1]); err == nil {
			t.Errorf("WriteSdist(%q, %q) succeeded", bad[0], bad[1])
		}
		if _, err := WriteWheel(t.TempDir(), src, bad[0], bad[1]); err == nil {
			t.Errorf("WriteWheel(%q, %q) succeeded", bad[0], bad[1])
		}
	}
	if _, err := WriteWheel(t.TempDir(), t.TempDir(), "empty", "1.0"); err == nil {
		t.Error("WriteWheel of a tree without a package succeeded")
	}
	if _, err := WriteSdist(t.TempDir(), filepath.Join(t.TempDir(), "missing"), "x", "1.0"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteSdist of a missing tree: %v", err)
	}
}

// TestIndexReadsBuiltMetadata: the index takes Summary from the sdist's
// PKG-INFO and the wheel's METADATA.
func TestIndexReadsBuiltMetadata(t *testing.T) {
	sdist, wheel := buildSample(t, "smokegood", "1.0")
	for _, p := range []string{sdist, wheel} {
		ix, srv := newServer(t, Options{})
		addPath(t, ix, p)
		_, body := mustGet(t, http.StatusOK, srv.URL+"/pypi/smokegood/json")
		var doc struct {
			Info struct{ Summary, Name string }
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Info.Summary != smokegoodSummary || doc.Info.Name != "smokegood" {
			t.Errorf("%s: info %+v", filepath.Base(p), doc.Info)
		}
	}
}
