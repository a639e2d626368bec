package archive_test

// Unpack is the first line of defence: every archive here is built by the
// test itself, and every rejection is checked for the rule it names and
// for having written nothing outside the destination. Absolute member
// names point into the test's own temporary directory, so that a broken
// check shows up as a file there instead of touching the host.

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pysmoke/pysmoke/archive"
	"github.com/pysmoke/pysmoke/internal/testenv"
)

// entry is one tar or zip member.
type entry struct {
	name string
	typ  byte // tar type flag; 0 means a regular file
	mode int64
	body string
	link string // link target for symlinks and hard links
}

func file(name, body string, mode int64) entry {
	return entry{name: name, typ: tar.TypeReg, mode: mode, body: body}
}
func dir(name string) entry { return entry{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, target string) entry {
	return entry{name: name, typ: tar.TypeSymlink, mode: 0o777, link: target}
}
func hardlink(name, target string) entry {
	return entry{name: name, typ: tar.TypeLink, mode: 0o644, link: target}
}

// tarBytes writes a tar of entries; ROOT in a name or link target
// becomes root.
func tarBytes(t testing.TB, root string, entries []entry) []byte {
	return tarFormat(t, tar.FormatUnknown, root, entries)
}

// tarFormat is tarBytes in the given format (FormatUnknown: the writer's
// choice per header).
func tarFormat(t testing.TB, format tar.Format, root string, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		name, link := strings.ReplaceAll(e.name, "ROOT", root), strings.ReplaceAll(e.link, "ROOT", root)
		h := &tar.Header{Name: name, Typeflag: typ, Mode: e.mode, Linkname: link, Uname: "u", Gname: "g", Format: format}
		switch typ {
		case tar.TypeReg:
			h.Size = int64(len(e.body))
		case tar.TypeXGlobalHeader:
			h = &tar.Header{Name: name, Typeflag: typ, PAXRecords: map[string]string{"comment": e.body}}
		case tar.TypeChar, tar.TypeBlock:
			h.Devmajor, h.Devminor = 1, 3
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("tar header %q: %v", e.name, err)
		}
		if typ == tar.TypeReg {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tgz builds a gzipped tar of entries.
func tgz(entries ...entry) builder {
	return func(t *testing.T, root string) []byte { return gzipBytes(t, tarBytes(t, root, entries)) }
}

// zipOf builds a zip of entries; ROOT in a name becomes root.
func zipOf(entries ...entry) builder {
	return func(t *testing.T, root string) []byte {
		rooted := make([]entry, len(entries))
		for i, e := range entries {
			e.name = strings.ReplaceAll(e.name, "ROOT", root)
			rooted[i] = e
		}
		return zipBytes(t, rooted)
	}
}

// zipBytes writes a zip of entries; a symlink is stored the way Info-ZIP
// stores one (mode bits in the external attributes, the target as body).
func zipBytes(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		body := e.body
		switch e.typ {
		case tar.TypeDir:
			h.Name = strings.TrimSuffix(e.name, "/") + "/"
			h.SetMode(fs.ModeDir | 0o755)
		case tar.TypeSymlink:
			h.SetMode(fs.ModeSymlink | 0o777)
			body = e.link
		case tar.TypeFifo:
			h.SetMode(fs.ModeNamedPipe | 0o644)
		case tar.TypeChar:
			h.SetMode(fs.ModeDevice | fs.ModeCharDevice | 0o666)
		default:
			h.SetMode(fs.FileMode(e.mode&0o777) | unixSpecial(e.mode))
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func unixSpecial(mode int64) fs.FileMode {
	var m fs.FileMode
	if mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// bzip2Of compresses a tar with the bzip2 command (Go has no bzip2 writer).
func bzip2Of(entries ...entry) builder {
	return func(t *testing.T, root string) []byte {
		t.Helper()
		bz, err := exec.LookPath("bzip2")
		testenv.Require(t, "the bzip2 command (Go cannot write bzip2)", err)
		cmd := exec.Command(bz, "-c")
		cmd.Stdin = bytes.NewReader(tarBytes(t, root, entries))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bzip2: %v", err)
		}
		return out
	}
}

// builder makes an archive's bytes; root is the test's directory, which
// names reaching out of dest aim at.
type builder func(t *testing.T, root string) []byte

func raw(b []byte) builder { return func(*testing.T, string) []byte { return b } }

// normalSdist is a conforming sdist with every kind of member Unpack
// accepts, and modes it must tame.
var normalSdist = []entry{
	{name: "pax_global_header", typ: tar.TypeXGlobalHeader, body: "made by a test"},
	dir("pkg-1.0/"),
	file("pkg-1.0/setup.py", "from setuptools import setup\nsetup(name='pkg')\n", 0o644),
	file("pkg-1.0/PKG-INFO", "Metadata-Version: 1.0\nName: pkg\n", 0o666),           // group/other write
	file("pkg-1.0/run.sh", "#!/bin/sh\necho hi\n", 0o4755),                          // setuid
	file("pkg-1.0/shared.txt", "shared\n", 0o2664),                                  // setgid, group write
	file("pkg-1.0/tool", "#!/bin/sh\n", 0o1777),                                     // sticky, world write
	file("pkg-1.0/pkg/__init__.py", "VERSION = '1.0'\n", 0o600),                     // directory made implicitly
	file("pkg-1.0/"+strings.Repeat("long", 30)+".txt", "needs a PAX name\n", 0o644), // > 100 bytes
	{name: "pkg-1.0/docs/", typ: tar.TypeDir, mode: 0o7777},                         // every special bit
	symlink("pkg-1.0/docs/readme", "../PKG-INFO"),
	symlink("pkg-1.0/docs/self", "."),
	hardlink("pkg-1.0/PKG-INFO.copy", "pkg-1.0/PKG-INFO"),
}

// wantNormal is what normalSdist must unpack to: path -> mode, content.
var wantNormal = map[string]struct {
	mode fs.FileMode
	body string
}{
	"pkg-1.0":                 {fs.ModeDir | 0o755, ""},
	"pkg-1.0/setup.py":        {0o644, "from setuptools import setup\nsetup(name='pkg')\n"},
	"pkg-1.0/PKG-INFO":        {0o644, "Metadata-Version: 1.0\nName: pkg\n"},
	"pkg-1.0/PKG-INFO.copy":   {0o644, "Metadata-Version: 1.0\nName: pkg\n"},
	"pkg-1.0/run.sh":          {0o755, "#!/bin/sh\necho hi\n"},
	"pkg-1.0/shared.txt":      {0o644, "shared\n"},
	"pkg-1.0/tool":            {0o755, "#!/bin/sh\n"},
	"pkg-1.0/pkg":             {fs.ModeDir | 0o755, ""},
	"pkg-1.0/pkg/__init__.py": {0o644, "VERSION = '1.0'\n"},
	"pkg-1.0/" + strings.Repeat("long", 30) + ".txt": {0o644, "needs a PAX name\n"},
	"pkg-1.0/docs":        {fs.ModeDir | 0o755, ""},
	"pkg-1.0/docs/readme": {fs.ModeSymlink, "../PKG-INFO"},
	"pkg-1.0/docs/self":   {fs.ModeSymlink, "."},
}

func checkNormal(t *testing.T, dest string) {
	t.Helper()
	got := map[string]bool{}
	err := filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dest {
			return err
		}
		rel, _ := filepath.Rel(dest, p)
		got[rel] = true
		want, ok := wantNormal[rel]
		if !ok {
			t.Errorf("unexpected member %s", rel)
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case want.mode&fs.ModeSymlink != 0:
			if fi.Mode()&fs.ModeSymlink == 0 {
				t.Errorf("%s: mode %v, want a symlink", rel, fi.Mode())
			} else if target, _ := os.Readlink(p); target != want.body {
				t.Errorf("%s -> %q, want -> %q", rel, target, want.body)
			}
		case fi.Mode() != want.mode:
			t.Errorf("%s: mode %v, want %v", rel, fi.Mode(), want.mode)
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			if string(b) != want.body {
				t.Errorf("%s: content %q, want %q", rel, b, want.body)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for rel := range wantNormal {
		if !got[rel] {
			t.Errorf("missing %s", rel)
		}
	}
	// The hard link is a link, not a copy.
	a, _ := os.Stat(filepath.Join(dest, "pkg-1.0/PKG-INFO"))
	b, _ := os.Stat(filepath.Join(dest, "pkg-1.0/PKG-INFO.copy"))
	if a == nil || b == nil || !os.SameFile(a, b) {
		t.Errorf("PKG-INFO.copy is not a hard link of PKG-INFO")
	}
	if pd, err := archive.ProjectDir(dest); err != nil || pd != filepath.Join(dest, "pkg-1.0") {
		t.Errorf("ProjectDir = %q, %v; want %s", pd, err, filepath.Join(dest, "pkg-1.0"))
	}
}

// checkSimple is for archive types that only need to prove they are read.
func checkSimple(t *testing.T, dest string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dest, "pkg-1.0/setup.py"))
	if err != nil || string(b) != "setup()\n" {
		t.Errorf("setup.py = %q, %v", b, err)
	}
	fi, err := os.Stat(filepath.Join(dest, "pkg-1.0/bin/tool"))
	if err != nil || fi.Mode() != 0o755 {
		t.Errorf("bin/tool: %v, %v; want mode 0755", fi, err)
	}
}

var simpleSdist = []entry{
	file("pkg-1.0/setup.py", "setup()\n", 0o644),
	file("pkg-1.0/bin/tool", "#!/bin/sh\n", 0o6777),
}

// archiveTestDir is laid out as
//
//	root/archive/<name>   the archive
//	root/dest/            where it unpacks
//	root/outside/         a sentinel that must stay empty
//
// and member names reaching out aim at root (the placeholder ROOT in a
// name or link target is replaced with it).
type archiveTestDir struct{ root, archive, dest, outside string }

func newArchiveTestDir(t *testing.T, name string, build builder) archiveTestDir {
	t.Helper()
	root := t.TempDir()
	d := archiveTestDir{root: root, archive: filepath.Join(root, "archive", name), dest: filepath.Join(root, "dest"), outside: filepath.Join(root, "outside")}
	for _, p := range []string{filepath.Dir(d.archive), d.dest, d.outside} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	body := build(t, root)
	if err := os.WriteFile(d.archive, body, 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

// checkContained asserts that nothing was written outside dest and that
// nothing in dest is a device, a FIFO, a file with unsafe mode bits or,
// when the archive was accepted, a link that leads out of it. (Links are
// checked again once the whole tree is known, so a rejected archive may
// leave one behind; the caller removes dest and nothing of it runs.)
func (d archiveTestDir) checkContained(t *testing.T, accepted bool) {
	t.Helper()
	d.checkNothingOutside(t)
	root, err := os.OpenRoot(d.dest)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	err = filepath.WalkDir(d.dest, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(d.dest, p)
		switch typ := e.Type(); {
		case typ&fs.ModeSymlink != 0 && accepted:
			// os.Root follows the link and refuses to leave dest; a
			// dangling link inside is fine.
			if _, err := root.Stat(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
				target, _ := os.Readlink(p)
				t.Errorf("link %s -> %s leads out of dest: %v", rel, target, err)
			}
		case typ&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0:
			t.Errorf("%s is a special file: %v", rel, typ)
		case typ.IsRegular():
			fi, _ := e.Info()
			if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky|0o022) != 0 {
				t.Errorf("%s has mode %v", rel, fi.Mode())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkNothingOutside checks that the folders around dest hold only what
// the test put there.
func (d archiveTestDir) checkNothingOutside(t *testing.T) {
	t.Helper()
	for _, dir := range []struct {
		path string
		want []string
	}{
		{d.root, []string{"archive", "dest", "outside"}},
		{d.outside, nil},
		{filepath.Dir(d.archive), []string{filepath.Base(d.archive)}},
	} {
		entries, err := os.ReadDir(dir.path)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, dir.want) {
			t.Errorf("written outside dest: %s holds %q, want %q", dir.path, names, dir.want)
		}
	}
}

func destBytes(t *testing.T, dest string) int64 {
	var n int64
	filepath.WalkDir(dest, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			fi, _ := e.Info()
			n += fi.Size()
		}
		return nil
	})
	return n
}

func randomText(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUnpack(t *testing.T) {
	validTgz := tgz(simpleSdist...)
	cases := []struct {
		name    string
		file    string
		build   builder
		lim     archive.Limits
		wantErr string // substring of the rejection; empty for success
		check   func(*testing.T, string)
	}{
		// Archives that must unpack.
		{name: "normal tar.gz", file: "pkg-1.0.tar.gz", build: tgz(normalSdist...), check: checkNormal},
		{name: "tgz extension", file: "pkg-1.0.tgz", build: validTgz, check: checkSimple},
		{name: "upper-case extension", file: "PKG-1.0.TAR.GZ", build: validTgz, check: checkSimple},
		{name: "tar.bz2", file: "pkg-1.0.tar.bz2", build: bzip2Of(simpleSdist...), check: checkSimple},
		{name: "zip", file: "pkg-1.0.zip", build: zipOf(append([]entry{dir("pkg-1.0")}, simpleSdist...)...), check: checkSimple},
		{name: "at the member cap", file: "pkg-1.0.tar.gz", build: validTgz, lim: archive.Limits{MaxFiles: 2}, check: checkSimple},
		{name: "at the byte cap", file: "pkg-1.0.tar.gz", build: validTgz, lim: archive.Limits{MaxBytes: int64(len("setup()\n#!/bin/sh\n"))}, check: checkSimple},

		// Names.
		{name: "dotdot traversal", file: "a.tar.gz", build: tgz(file("pkg/../../outside/evil", "x", 0o644)), wantErr: `"pkg/../../outside/evil" has a '..' component`},
		{name: "leading dotdot", file: "a.tar.gz", build: tgz(file("../evil", "x", 0o644)), wantErr: `"../evil" has a '..' component`},
		{name: "absolute name", file: "a.tar.gz", build: tgz(file("ROOT/outside/evil", "x", 0o644)), wantErr: "has an absolute name"},
		{name: "absolute dir", file: "a.tar.gz", build: tgz(dir("ROOT/outside/evildir")), wantErr: "has an absolute name"},
		{name: "windows drive name", file: "a.tar.gz", build: tgz(file(`C:\evil`, "x", 0o644)), wantErr: "has an absolute name"},

		// Symbolic links.
		{name: "symlink to absolute", file: "a.tar.gz", build: tgz(symlink("pkg/passwd", "/etc/passwd")), wantErr: `symlink "pkg/passwd" -> "/etc/passwd" leaves the tree`},
		{name: "symlink to dotdot", file: "a.tar.gz", build: tgz(symlink("pkg/out", "../../outside"), file("pkg/out/evil", "x", 0o644)), wantErr: `symlink "pkg/out" -> "../../outside" leaves the tree`},
		{name: "symlink to dotdot at top", file: "a.tar.gz", build: tgz(symlink("up", "..")), wantErr: `symlink "up" -> ".." leaves the tree`},
		{name: "symlink empty target", file: "a.tar.gz", build: tgz(symlink("pkg/empty", "")), wantErr: "leaves the tree"},
		{name: "symlink through an earlier link", file: "a.tar.gz", build: tgz(symlink("pkg/here", "."), symlink("pkg/esc", "here/../../outside"), file("pkg/esc/evil", "x", 0o644)), wantErr: `symlink "pkg/esc" -> "here/../../outside" leaves the tree`},
		{name: "symlink through a link to its parent", file: "a.tar.gz", build: tgz(symlink("sub/up", ".."), symlink("esc", "sub/up/../outside"), file("esc/evil", "x", 0o644)), wantErr: `symlink "esc" -> "sub/up/../outside" leaves the tree`},
		{name: "symlink placed through an earlier link", file: "a.tar.gz", build: tgz(symlink("sub/up", ".."), symlink("sub/up/esc", "../outside"), file("esc/evil", "x", 0o644)), wantErr: `symlink "sub/up/esc" -> "../outside" leaves the tree`},
		{name: "symlink chain out", file: "a.tar.gz", build: tgz(symlink("a/b/c", "../.."), symlink("a/b/d", "c/../outside")), wantErr: `symlink "a/b/d" -> "c/../outside" leaves the tree`},

		{name: "symlink made to leave by a later link", file: "a.tar.gz", build: tgz(symlink("a", "x/.."), symlink("x", ".")), wantErr: `symlink "a" -> "x/.." leaves the tree`},
		{name: "symlink chain inside", file: "a.tar.gz", build: tgz(append(slices.Clone(simpleSdist), symlink("pkg-1.0/docs/self", "."), symlink("pkg-1.0/setup.link", "docs/self/../setup.py"))...), check: func(t *testing.T, dest string) {
			checkSimple(t, dest)
			if b, err := os.ReadFile(filepath.Join(dest, "pkg-1.0/setup.link")); err != nil || string(b) != "setup()\n" {
				t.Errorf("setup.link reads %q, %v", b, err)
			}
		}},

		// Hard links.
		{name: "hard link to dotdot", file: "a.tar.gz", build: tgz(hardlink("pkg/passwd", "../outside/x")), wantErr: `hard link "pkg/passwd" -> "../outside/x" leaves the tree`},
		{name: "hard link to absolute", file: "a.tar.gz", build: tgz(hardlink("pkg/passwd", "/etc/passwd")), wantErr: `hard link "pkg/passwd" -> "/etc/passwd" leaves the tree`},
		{name: "hard link to missing member", file: "a.tar.gz", build: tgz(hardlink("pkg/x", "pkg/nothing")), wantErr: `hard link "pkg/x" -> "pkg/nothing"`},
		{name: "hard link copying an escaping symlink", file: "a.tar.gz", build: tgz(symlink("sub/up", ".."), hardlink("esc", "sub/up"), file("esc/outside/evil", "x", 0o644)), wantErr: `hard link "esc" -> "sub/up" leaves the tree`},

		// Special files.
		{name: "char device", file: "a.tar.gz", build: tgz(file("pkg-1.0/setup.py", "", 0o644), entry{name: "pkg-1.0/null", typ: tar.TypeChar, mode: 0o666}), wantErr: `member "pkg-1.0/null" is a device or FIFO`},
		{name: "block device", file: "a.tar.gz", build: tgz(entry{name: "pkg-1.0/sda", typ: tar.TypeBlock, mode: 0o660}), wantErr: `member "pkg-1.0/sda" is a device or FIFO`},
		{name: "fifo", file: "a.tar.gz", build: tgz(entry{name: "pkg-1.0/pipe", typ: tar.TypeFifo, mode: 0o644}), wantErr: `member "pkg-1.0/pipe" is a device or FIFO`},
		{name: "unknown tar type", file: "a.tar.gz", build: tgz(entry{name: "pkg-1.0/cont", typ: tar.TypeCont, mode: 0o644}), wantErr: `member "pkg-1.0/cont" has unsupported type`},

		// Zip.
		{name: "zip slip", file: "a.zip", build: zipOf(file("pkg-1.0/setup.py", "", 0o644), file("../outside/evil", "x", 0o644)), wantErr: `"../outside/evil" has a '..' component`},
		{name: "zip absolute name", file: "a.zip", build: zipOf(file("ROOT/outside/evil", "x", 0o644)), wantErr: "has an absolute name"},
		{name: "zip backslash slip", file: "a.zip", build: zipOf(file(`..\outside\evil`, "x", 0o644)), wantErr: "has an absolute name"},
		{name: "zip symlink", file: "a.zip", build: zipOf(symlink("pkg-1.0/passwd", "/etc/passwd")), wantErr: `zip member "pkg-1.0/passwd" is a symlink`},
		{name: "zip fifo", file: "a.zip", build: zipOf(entry{name: "pkg-1.0/pipe", typ: tar.TypeFifo}), wantErr: `zip member "pkg-1.0/pipe" is not a regular file`},
		{name: "zip bomb", file: "a.zip", build: zipOf(file("pkg-1.0/zeros", strings.Repeat("\x00", 4<<20), 0o644)), lim: archive.Limits{MaxRatio: 50}, wantErr: "unpacks to more than allowed"},
		{name: "zip empty", file: "a.zip", build: zipOf(), wantErr: "empty archive"},
		{name: "zip corrupt", file: "a.zip", build: raw([]byte("PK\x03\x04 this is not a zip")), wantErr: "corrupt zip"},

		// Sizes.
		{name: "gzip bomb", file: "a.tar.gz", build: tgz(file("pkg-1.0/zeros", strings.Repeat("\x00", 8<<20), 0o644)), wantErr: "unpacks to more than allowed"},
		{name: "over the byte cap", file: "a.tar.gz", build: tgz(file("pkg-1.0/random", randomText(t, 64<<10), 0o644)), lim: archive.Limits{MaxBytes: 10000}, wantErr: "unpacks to more than allowed (10000 bytes cap"},
		{name: "over the byte cap across files", file: "a.tar.gz", build: tgz(file("a", randomText(t, 600), 0o644), file("b", randomText(t, 600), 0o644)), lim: archive.Limits{MaxBytes: 1000}, wantErr: "unpacks to more than allowed (1000 bytes cap"},
		{name: "too many members", file: "a.tar.gz", build: tgz(file("a", "", 0o644), file("b", "", 0o644), dir("c"), file("d", "", 0o644)), lim: archive.Limits{MaxFiles: 3}, wantErr: "more than 3 members"},
		{name: "too many zip members", file: "a.zip", build: zipOf(file("a", "", 0o644), file("b", "", 0o644), file("d", "", 0o644)), lim: archive.Limits{MaxFiles: 2}, wantErr: "more than 2 members"},

		// Broken or unsupported archives.
		{name: "not gzip", file: "a.tar.gz", build: raw([]byte("this is not gzip at all")), wantErr: "not a gzip file"},
		{name: "zero bytes", file: "a.tar.gz", build: raw(nil), wantErr: "not a gzip file"},
		{name: "truncated gzip", file: "a.tar.gz", build: func(t *testing.T, root string) []byte {
			b := tgz(file("pkg-1.0/random", randomText(t, 20000), 0o644))(t, root)
			return b[:len(b)/2]
		}, wantErr: "unexpected EOF"},
		{name: "gzip of garbage", file: "a.tar.gz", build: func(t *testing.T, _ string) []byte { return gzipBytes(t, bytes.Repeat([]byte("garbage!"), 200)) }, wantErr: "corrupt tar"},
		{name: "empty tar", file: "a.tar.gz", build: tgz(), wantErr: "empty archive"},
		{name: "empty gzip stream", file: "a.tar.gz", build: func(t *testing.T, _ string) []byte { return gzipBytes(t, nil) }, wantErr: "empty archive"},
		{name: "corrupt bzip2", file: "a.tar.bz2", build: raw([]byte("BZh91AY&SY this is not bzip2")), wantErr: "corrupt tar"},
		{name: "unknown extension", file: "pkg-1.0.rar", build: validTgz, wantErr: `unknown archive type "pkg-1.0.rar"`},
		{name: "plain tar", file: "pkg-1.0.tar", build: func(t *testing.T, _ string) []byte { return tarBytes(t, "", simpleSdist) }, wantErr: `unknown archive type "pkg-1.0.tar"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newArchiveTestDir(t, tc.file, tc.build)
			err := archive.Unpack(d.archive, d.dest, tc.lim)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Unpack: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("Unpack accepted it; want rejection %q", tc.wantErr)
			case tc.wantErr != "" && !errors.Is(err, archive.ErrRejected):
				t.Errorf("Unpack: %v; want an ErrRejected error", err)
			case tc.wantErr != "" && !strings.Contains(err.Error(), strings.ReplaceAll(tc.wantErr, "ROOT", d.root)):
				t.Errorf("Unpack: %v; want it to say %q", err, tc.wantErr)
			}
			d.checkContained(t, err == nil)
			if tc.check != nil && err == nil {
				tc.check(t, d.dest)
			}
			// Whatever the caps, nothing much beyond them reached the disk.
			lim := tc.lim
			if lim.MaxBytes == 0 {
				lim.MaxBytes = 512 << 20
			}
			if n := destBytes(t, d.dest); n > lim.MaxBytes+1 {
				t.Errorf("%d bytes written, cap %d", n, lim.MaxBytes)
			}
		})
	}
}

// TestUnpackRatioBounded checks that a bomb stops near its allowance, not
// after writing everything.
func TestUnpackRatioBounded(t *testing.T) {
	d := newArchiveTestDir(t, "bomb.tar.gz", tgz(file("zeros", strings.Repeat("\x00", 16<<20), 0o644)))
	fi, err := os.Stat(d.archive)
	if err != nil {
		t.Fatal(err)
	}
	err = archive.Unpack(d.archive, d.dest, archive.Limits{MaxRatio: 20})
	if !errors.Is(err, archive.ErrRejected) || !strings.Contains(err.Error(), "20x the archive's size") {
		t.Fatalf("Unpack: %v; want a ratio rejection", err)
	}
	if n, allowance := destBytes(t, d.dest), fi.Size()*20; n > allowance+1 {
		t.Errorf("wrote %d bytes; the ratio allows %d", n, allowance)
	}
}

func TestUnpackMissingArchiveIsMachinery(t *testing.T) {
	err := archive.Unpack(filepath.Join(t.TempDir(), "missing.tar.gz"), t.TempDir(), archive.Limits{})
	if err == nil || errors.Is(err, archive.ErrRejected) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Unpack of a missing file: %v; want a not-exist error that is not ErrRejected", err)
	}
}

func TestProjectDir(t *testing.T) {
	cases := []struct {
		name    string
		layout  func(t *testing.T, dest string)
		want    string // relative to dest; "." for dest itself
		wantErr bool
	}{
		{name: "one top directory with setup.py", layout: func(t *testing.T, d string) {
			mk(t, d, "pkg-1.0/setup.py", "pkg-1.0/PKG-INFO")
		}, want: "pkg-1.0"},
		{name: "one top directory with pyproject.toml", layout: func(t *testing.T, d string) {
			mk(t, d, "pkg-1.0/pyproject.toml")
		}, want: "pkg-1.0"},
		{name: "setup.py at the root", layout: func(t *testing.T, d string) {
			mk(t, d, "setup.py", "pkg/__init__.py")
		}, want: "."},
		{name: "top directory and loose files", layout: func(t *testing.T, d string) {
			mk(t, d, "pkg-1.0/setup.py", "README")
		}, want: "pkg-1.0"},
		{name: "two top directories", layout: func(t *testing.T, d string) {
			mk(t, d, "a/setup.py", "b/setup.py")
		}, wantErr: true},
		{name: "setup.py too deep", layout: func(t *testing.T, d string) {
			mk(t, d, "pkg-1.0/src/setup.py")
		}, wantErr: true},
		{name: "setup.py is a directory", layout: func(t *testing.T, d string) {
			mk(t, d, "pkg-1.0/setup.py/x")
		}, wantErr: true},
		{name: "setup.py is a symlink", layout: func(t *testing.T, d string) {
			mk(t, d, "pkg-1.0/real.py")
			if err := os.Symlink("real.py", filepath.Join(d, "pkg-1.0/setup.py")); err != nil {
				t.Fatal(err)
			}
		}, wantErr: true},
		{name: "top directory is a symlink", layout: func(t *testing.T, d string) {
			other := t.TempDir()
			mk(t, other, "setup.py")
			if err := os.Symlink(other, filepath.Join(d, "pkg-1.0")); err != nil {
				t.Fatal(err)
			}
		}, wantErr: true},
		{name: "empty", layout: func(*testing.T, string) {}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dest := t.TempDir()
			tc.layout(t, dest)
			got, err := archive.ProjectDir(dest)
			if tc.wantErr {
				if !errors.Is(err, archive.ErrRejected) || !strings.Contains(err.Error(), "no setup.py or pyproject.toml") {
					t.Errorf("ProjectDir = %q, %v; want a rejection naming setup.py", got, err)
				}
				return
			}
			if want := filepath.Join(dest, tc.want); err != nil || got != want {
				t.Errorf("ProjectDir = %q, %v; want %q", got, err, want)
			}
		})
	}
}

// mk creates empty files (and their directories) under dir.
func mk(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
