package archive_test

// Fuzzing of the unpacker with whole archives. FuzzUnpackTarGz takes a tar
// stream, which the test gzips (so that mutations land on tar headers, not
// on a deflate stream that no longer decodes), or, when raw is set, the
// bytes of the .tar.gz itself; FuzzUnpackZip takes the bytes of a .zip.
// Whatever the bytes, Unpack must end in success or a rejection (never a
// panic, never a machinery error), write nothing outside dest, leave no
// device, FIFO or setuid file, no file with group or other write, and on
// success no link that leads out of dest; and it must stay within its byte
// cap. Limits are small so that each run is quick. Run one with
//
//	go test -run '^$' -fuzz '^FuzzUnpackTarGz$' -fuzztime 20s ./archive/
//
// (scripts/fuzz.sh runs every target).

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pysmoke/pysmoke/archive"
)

// fuzzLimits keep one run small: a real sdist fits, a bomb is cut early.
var fuzzLimits = archive.Limits{MaxFiles: 64, MaxBytes: 256 << 10, MaxRatio: 200}

// fuzzTar writes a tar of entries in the given format.
func fuzzTar(f *testing.F, format tar.Format, entries ...entry) []byte {
	return tarFormat(f, format, "", entries)
}

func fuzzGzip(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// fuzzZip writes a zip of entries.
func fuzzZip(f *testing.F, entries ...entry) []byte {
	return zipBytes(f, entries)
}

// fuzzSdist is a small conforming sdist with every kind of member Unpack
// accepts.
var fuzzSdist = []entry{
	dir("pkg-1.0/"),
	file("pkg-1.0/PKG-INFO", "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\nRequires-Python: >=3.8\n", 0o644),
	file("pkg-1.0/pyproject.toml", "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n", 0o644),
	file("pkg-1.0/setup.py", "from setuptools import setup\nsetup()\n", 0o755),
	file("pkg-1.0/src/pkg/__init__.py", "__version__ = '1.0'\n", 0o644),
	file("pkg-1.0/"+strings.Repeat("long", 30)+".txt", "needs a long name\n", 0o644),
	symlink("pkg-1.0/docs/readme", "../PKG-INFO"),
	symlink("pkg-1.0/self", "."),
	hardlink("pkg-1.0/PKG-INFO.copy", "pkg-1.0/PKG-INFO"),
}

// fuzzHostile are the shapes an attacker tries, one archive each.
var fuzzHostile = [][]entry{
	{file("pkg/../../outside/evil", "x", 0o644)},
	{file("../outside/evil", "x", 0o644)},
	{file("/tmp/evil", "x", 0o644)},
	{dir("/tmp/evildir")},
	{file(`C:\evil`, "x", 0o644)},
	{file(`..\outside\evil`, "x", 0o644)},
	{symlink("pkg/passwd", "/etc/passwd")},
	{symlink("pkg/out", "../../outside"), file("pkg/out/evil", "x", 0o644)},
	{symlink("up", "..")},
	{symlink("pkg/empty", "")},
	{symlink("pkg/here", "."), symlink("pkg/esc", "here/../../outside"), file("pkg/esc/evil", "x", 0o644)},
	{symlink("sub/up", ".."), symlink("esc", "sub/up/../outside"), file("esc/evil", "x", 0o644)},
	{symlink("sub/up", ".."), symlink("sub/up/esc", "../outside"), file("esc/evil", "x", 0o644)},
	{symlink("a", "x/.."), symlink("x", ".")},
	{symlink("loop", "loop")},
	{hardlink("pkg/passwd", "../outside/x")},
	{hardlink("pkg/passwd", "/etc/passwd")},
	{symlink("sub/up", ".."), hardlink("esc", "sub/up"), file("esc/outside/evil", "x", 0o644)},
	{file("pkg/setup.py", "", 0o644), {name: "pkg/null", typ: tar.TypeChar, mode: 0o666}},
	{{name: "pkg/pipe", typ: tar.TypeFifo, mode: 0o644}},
	{file("pkg/run.sh", "#!/bin/sh\n", 0o6777), {name: "pkg/d/", typ: tar.TypeDir, mode: 0o7777}},
	{file("pkg/a", "1", 0o644), file("pkg/a", "2", 0o644)},
	{file("pkg/zeros", strings.Repeat("\x00", 32<<10), 0o644)},
}

func FuzzUnpackTarGz(f *testing.F) {
	for _, format := range []tar.Format{tar.FormatPAX, tar.FormatGNU} {
		f.Add(fuzzTar(f, format, fuzzSdist...), false)
	}
	f.Add(fuzzGzip(fuzzTar(f, tar.FormatPAX, fuzzSdist...)), true)
	for _, h := range fuzzHostile {
		f.Add(fuzzTar(f, tar.FormatPAX, h...), false)
	}
	f.Add([]byte("this is not gzip at all"), true)
	f.Add(fuzzGzip(bytes.Repeat([]byte("garbage!"), 64)), true)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, data []byte, raw bool) {
		if !raw {
			data = fuzzGzip(data)
		}
		checkUnpack(t, "pkg-1.0.tar.gz", data)
	})
}

func FuzzUnpackZip(f *testing.F) {
	f.Add(fuzzZip(f, fuzzSdist[:6]...))
	for _, h := range fuzzHostile {
		f.Add(fuzzZip(f, h...))
	}
	f.Add([]byte("PK\x03\x04 this is not a zip"))
	f.Add(fuzzZip(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkUnpack(t, "pkg-1.0.zip", data)
	})
}

// checkUnpack unpacks data, written as an archive called name, and checks
// the invariants, with the layout of archiveTestDir: an escape lands in
// root/outside or beside dest, and shows.
func checkUnpack(t *testing.T, name string, data []byte) {
	d := newArchiveTestDir(t, name, raw(data))
	err := archive.Unpack(d.archive, d.dest, fuzzLimits)
	if err != nil && !errors.Is(err, archive.ErrRejected) {
		t.Fatalf("Unpack: %v; want success or an ErrRejected error", err)
	}
	accepted := err == nil
	d.checkNothingOutside(t)
	realDest, err := filepath.EvalSymlinks(d.dest)
	if err != nil {
		t.Fatal(err)
	}
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
			// A link may dangle, or pass through a file, but neither
			// os.Root nor the kernel may find it leading out of dest.
			target, _ := os.Readlink(p)
			if filepath.IsAbs(target) {
				t.Errorf("link %s -> %s is absolute", rel, target)
			}
			if _, err := root.Stat(rel); err != nil && strings.Contains(err.Error(), "path escapes from parent") {
				t.Errorf("link %s -> %s leads out of dest: %v", rel, target, err)
			}
			if r, err := filepath.EvalSymlinks(p); err == nil {
				if up, err := filepath.Rel(realDest, r); err != nil || up == ".." || strings.HasPrefix(up, "../") {
					t.Errorf("link %s -> %s resolves to %s, outside dest", rel, target, r)
				}
			}
		case typ&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0:
			t.Errorf("%s is a special file: %v", rel, typ)
		case typ.IsRegular():
			fi, err := e.Info()
			if err == nil && fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky|0o022) != 0 {
				t.Errorf("%s has mode %v", rel, fi.Mode())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := destBytesOnce(d.dest); n > fuzzLimits.MaxBytes+1 {
		t.Errorf("%d bytes written, cap %d", n, fuzzLimits.MaxBytes)
	}
	if accepted {
		archive.ProjectDir(d.dest)
	}
}

// destBytesOnce is the bytes of the regular files under dest, each inode
// counted once (a hard link writes nothing).
func destBytesOnce(dest string) int64 {
	var n int64
	seen := map[uint64]bool{}
	filepath.WalkDir(dest, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		n += fi.Size()
		return nil
	})
	return n
}
