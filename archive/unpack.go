// Package archive reads the archives pysmoke is handed and makes: it
// unpacks an sdist safely on the host, before any of its code runs, and
// lists the members of the archives a step produced (the manifest two
// builds are compared by). Everything it reads is untrusted: it caps
// members, bytes and compression ratios, and never writes outside its
// destination.
package archive

// Safe unpacking of sdists, before any of their code runs. The rules are
// those of the "data" extraction filter of PEP 706, applied by hand because
// Go's archive readers pass "../x", "/etc/x", links out of the tree and
// device files without complaint; every file is created through os.Root,
// which refuses to follow a link out of the destination in any case.

import (
	"archive/tar"
	"archive/zip"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pysmoke/pysmoke/dist"
)

// Limits caps what an sdist may unpack to.
type Limits struct {
	MaxFiles int   // members; default 20,000
	MaxBytes int64 // total unpacked bytes; default 512 MiB
	MaxRatio int64 // unpacked bytes per compressed byte; default 200
}

func (l Limits) withDefaults() Limits {
	if l.MaxFiles == 0 {
		l.MaxFiles = 20000
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = 512 << 20
	}
	if l.MaxRatio == 0 {
		l.MaxRatio = 200
	}
	return l
}

// ErrRejected marks an sdist that broke an unpacking rule; the error text
// names the member and the rule.
var ErrRejected = errors.New("rejected sdist")

func reject(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrRejected, fmt.Sprintf(format, a...))
}

// Unpack extracts the sdist at archive into the existing empty directory
// dest. An error wrapping ErrRejected means the sdist itself is at fault
// (unsafe, corrupt or too big); any other error is the machinery's.
func Unpack(archive, dest string, lim Limits) error {
	root, err := os.OpenRoot(dest)
	if err != nil {
		return fmt.Errorf("open unpack destination: %w", err)
	}
	defer root.Close()
	return UnpackInto(archive, root, lim)
}

// UnpackInto is Unpack into a folder already open: how the host unpacks
// into a scratch package code has run in, whose folders could have been
// replaced by links (the root never follows one out).
func UnpackInto(archive string, root *os.Root, lim Limits) error {
	lim = lim.withDefaults()
	f, err := os.Open(archive)
	if err != nil {
		return fmt.Errorf("open sdist: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat sdist: %w", err)
	}
	u := &unpacker{root: root, lim: lim, budget: min(lim.MaxBytes, max(fi.Size(), 1)*lim.MaxRatio)}
	name := strings.ToLower(archive)
	switch {
	case strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".tgz"):
		gz, err := gzip.NewReader(f)
		if err != nil {
			return reject("not a gzip file: %v", err)
		}
		return u.tar(gz)
	case strings.HasSuffix(name, ".tar.bz2"):
		return u.tar(bzip2.NewReader(f))
	case strings.HasSuffix(name, ".zip"):
		return u.zip(f, fi.Size())
	}
	return reject("unknown archive type %q", path.Base(archive))
}

type unpacker struct {
	root   *os.Root
	lim    Limits
	files  int
	budget int64 // bytes that may still be written
	links  map[string]string
}

// clean validates a member name and returns it relative to the root.
func clean(name string) (string, error) {
	if name == "" || strings.ContainsRune(name, 0) {
		return "", reject("member with an empty or NUL name")
	}
	if strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || (len(name) > 1 && name[1] == ':') {
		return "", reject("member %q has an absolute name", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", reject("member %q has a '..' component", name)
		}
	}
	c := path.Clean(name)
	if c == "." {
		return "", nil
	}
	return c, nil
}

// placeLink checks a symlink at member name with the given target: it
// returns where the link really lands (its directory may pass through
// earlier links) and whether its target stays inside the tree. Paths are
// followed through the links met so far the way the kernel would, never
// cleaned lexically first: "a/.." is not "." when a is a link.
func (u *unpacker) placeLink(name, target string) (string, bool) {
	if target == "" || strings.HasPrefix(target, "/") {
		return "", false
	}
	dir, ok := u.resolve(path.Dir(name))
	if !ok {
		return "", false
	}
	_, ok = u.resolve(dir + "/" + target)
	return path.Join(dir, path.Base(name)), ok
}

// resolve follows p, relative to the root and possibly holding ".."
// components, through the links in u.links (this archive made the tree,
// so they are all its links) and returns the result relative to the root;
// false when it leaves the tree or loops.
func (u *unpacker) resolve(p string) (string, bool) {
	hops := 0
	var walk func(p string) ([]string, bool)
	walk = func(p string) ([]string, bool) {
		var stack []string
		for _, part := range strings.Split(p, "/") {
			switch part {
			case "", ".":
				continue
			case "..":
				if len(stack) == 0 {
					return nil, false
				}
				stack = stack[:len(stack)-1]
				continue
			}
			stack = append(stack, part)
			target, isLink := u.links[strings.Join(stack, "/")]
			if !isLink {
				continue
			}
			if hops++; hops > 40 || strings.HasPrefix(target, "/") {
				return nil, false
			}
			r, ok := walk(strings.Join(stack[:len(stack)-1], "/") + "/" + target)
			if !ok {
				return nil, false
			}
			stack = r
		}
		return stack, true
	}
	stack, ok := walk(p)
	return strings.Join(stack, "/"), ok
}

// checkLinks re-checks every link once the tree is complete: a link made
// later can change where an earlier one leads ("a" -> "x/.." is the root
// until "x" -> "." makes it the root's parent).
func (u *unpacker) checkLinks() error {
	for at, target := range u.links {
		if _, ok := u.resolve(path.Dir(at) + "/" + target); !ok {
			return reject("symlink %q -> %q leaves the tree", at, target)
		}
	}
	return nil
}

func (u *unpacker) count() error {
	u.files++
	if u.files > u.lim.MaxFiles {
		return reject("more than %d members", u.lim.MaxFiles)
	}
	return nil
}

func (u *unpacker) mkdirs(dir string) error {
	if dir == "" || dir == "." {
		return nil
	}
	if err := u.root.MkdirAll(dir, 0o755); err != nil {
		return reject("cannot make directory %q: %v", dir, err)
	}
	return nil
}

func (u *unpacker) writeFile(name string, mode fs.FileMode, r io.Reader) error {
	if err := u.mkdirs(path.Dir(name)); err != nil {
		return err
	}
	// Keep only the owner's execute bit; no setuid, setgid, sticky or
	// group/other write, as the data filter does.
	perm := fs.FileMode(0o644)
	if mode&0o100 != 0 {
		perm = 0o755
	}
	f, err := u.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return reject("cannot create %q: %v", name, err)
	}
	n, err := io.Copy(f, io.LimitReader(r, u.budget+1))
	cerr := f.Close()
	u.budget -= n
	if u.budget < 0 {
		return reject("unpacks to more than allowed (%d bytes cap, or %dx the archive's size)", u.lim.MaxBytes, u.lim.MaxRatio)
	}
	if err != nil {
		return reject("reading member %q: %v", name, err)
	}
	if cerr != nil {
		return fmt.Errorf("write %q: %w", name, cerr)
	}
	return nil
}

func (u *unpacker) tar(r io.Reader) error {
	tr := tar.NewReader(r)
	u.links = map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			if u.files == 0 {
				return reject("empty archive")
			}
			return u.checkLinks()
		}
		if err != nil {
			return reject("corrupt tar: %v", err)
		}
		if err := u.count(); err != nil {
			return err
		}
		name, err := clean(h.Name)
		if err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := u.mkdirs(name); err != nil {
				return err
			}
		case tar.TypeReg, tar.TypeRegA:
			if name == "" {
				return reject("regular file with an empty name")
			}
			if err := u.writeFile(name, fs.FileMode(h.Mode), tr); err != nil {
				return err
			}
		case tar.TypeSymlink:
			at, ok := u.placeLink(name, h.Linkname)
			if !ok {
				return reject("symlink %q -> %q leaves the tree", h.Name, h.Linkname)
			}
			if err := u.mkdirs(path.Dir(name)); err != nil {
				return err
			}
			if err := u.root.Symlink(h.Linkname, name); err != nil {
				return reject("symlink %q: %v", h.Name, err)
			}
			u.links[at] = h.Linkname
		case tar.TypeLink:
			target, err := clean(h.Linkname)
			if err != nil || target == "" {
				return reject("hard link %q -> %q leaves the tree", h.Name, h.Linkname)
			}
			// A hard link to a symlink is a second symlink with the same
			// target, which may lead elsewhere from its new place.
			var at, ltarget string
			if tdir, ok := u.resolve(path.Dir(target)); ok {
				if lt, isLink := u.links[path.Join(tdir, path.Base(target))]; isLink {
					if at, ok = u.placeLink(name, lt); !ok {
						return reject("hard link %q -> %q leaves the tree (it copies a symlink to %q)", h.Name, h.Linkname, lt)
					}
					ltarget = lt
				}
			}
			if err := u.mkdirs(path.Dir(name)); err != nil {
				return err
			}
			if err := u.root.Link(target, name); err != nil {
				return reject("hard link %q -> %q: %v", h.Name, h.Linkname, err)
			}
			if at != "" {
				u.links[at] = ltarget
			}
		case tar.TypeXGlobalHeader, tar.TypeXHeader:
			// Metadata only.
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			return reject("member %q is a device or FIFO", h.Name)
		default:
			return reject("member %q has unsupported type %q", h.Name, h.Typeflag)
		}
	}
}

func (u *unpacker) zip(f *os.File, size int64) error {
	// Count from the end records first: zip.NewReader reads and allocates
	// the whole central directory before the member cap below could apply.
	if _, err := dist.CheckZip(f, size, u.lim.MaxFiles); err != nil {
		if errors.Is(err, dist.ErrZipTooBig) || errors.Is(err, dist.ErrZipCorrupt) {
			return fmt.Errorf("%w: %w", ErrRejected, err)
		}
		return fmt.Errorf("read sdist: %w", err)
	}
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return reject("corrupt zip: %v", err)
	}
	if len(zr.File) == 0 {
		return reject("empty archive")
	}
	for _, zf := range zr.File {
		if err := u.count(); err != nil {
			return err
		}
		name, err := clean(zf.Name)
		if err != nil {
			return err
		}
		mode := zf.Mode()
		switch {
		case mode.IsDir():
			if err := u.mkdirs(name); err != nil {
				return err
			}
		case mode&fs.ModeSymlink != 0:
			return reject("zip member %q is a symlink", zf.Name)
		case mode.IsRegular():
			rc, err := zf.Open()
			if err != nil {
				return reject("zip member %q: %v", zf.Name, err)
			}
			err = u.writeFile(name, mode, rc)
			rc.Close()
			if err != nil {
				return err
			}
		default:
			return reject("zip member %q is not a regular file", zf.Name)
		}
	}
	return nil
}

// ProjectDir returns the directory of an unpacked sdist that holds its
// setup.py or pyproject.toml: the one top-level directory of a conforming
// sdist, or the root itself.
func ProjectDir(dest string) (string, error) {
	root, err := os.OpenRoot(dest)
	if err != nil {
		return "", err
	}
	defer root.Close()
	rel, err := ProjectDirIn(root)
	if err != nil {
		return "", err
	}
	return filepath.Join(dest, rel), nil
}

// ProjectDirIn is ProjectDir of a folder already open; it returns the
// project's folder relative to it ("." or "pkg-1.0").
func ProjectDirIn(root *os.Root) (string, error) {
	has := func(dir string) bool {
		for _, f := range []string{"setup.py", "pyproject.toml"} {
			if fi, err := root.Lstat(path.Join(dir, f)); err == nil && fi.Mode().IsRegular() {
				return true
			}
		}
		return false
	}
	if has(".") {
		return ".", nil
	}
	d, err := root.Open(".")
	if err != nil {
		return "", err
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return "", err
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	if len(dirs) == 1 && has(dirs[0]) {
		return dirs[0], nil
	}
	return "", reject("no setup.py or pyproject.toml at the top of the sdist")
}
