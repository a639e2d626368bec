package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/pysmoke/pysmoke/dist"
)

// Member is one member of an archive.
type Member struct {
	Path   string
	Size   int64
	Mode   string // type and permissions, "-rw-r--r--"
	SHA256 string // of regular files
	Link   string // a link's target
}

// Caps of listing an archive: outputs are attack surface too.
const (
	maxMembers      = 20000
	maxMemberBytes  = 2 << 30
	maxMembersError = "too many members or bytes to list"
)

// IsArchive reports whether a file's name says it is an archive Members
// can list.
func IsArchive(name string) bool {
	for _, ext := range []string{".whl", ".zip", ".egg", ".tar", ".tar.gz", ".tgz", ".tar.bz2"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// Members lists the members of the archive in f (size bytes, of the kind
// its name says), sorted by path, with the size and SHA-256 of each
// regular file. A broken archive, or one past the caps, is an error.
func Members(f *os.File, name string, size int64) ([]Member, error) {
	ms, _, err := MembersAndContents(f, name, size, nil)
	return ms, err
}

// MembersAndContents is Members, and also the contents of the regular
// members keep chooses (by path and size; nil keeps none), by path. The
// archive was made by package code: keep must bound what it takes.
func MembersAndContents(f *os.File, name string, size int64, keep func(path string, size int64) bool) ([]Member, map[string][]byte, error) {
	var ms []Member
	var err error
	kept := map[string][]byte{}
	w := walker{keep: keep, kept: kept}
	switch {
	case strings.HasSuffix(name, ".whl"), strings.HasSuffix(name, ".zip"), strings.HasSuffix(name, ".egg"):
		ms, err = w.zipMembers(f, size)
	case strings.HasSuffix(name, ".tar"):
		ms, err = w.tarMembers(f)
	case strings.HasSuffix(name, ".tar.gz"), strings.HasSuffix(name, ".tgz"):
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(f); err == nil {
			ms, err = w.tarMembers(zr)
		}
	case strings.HasSuffix(name, ".tar.bz2"):
		ms, err = w.tarMembers(bzip2.NewReader(f))
	default:
		err = fmt.Errorf("%s: not an archive", name)
	}
	if err != nil {
		return nil, nil, err
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Path < ms[j].Path })
	return ms, kept, nil
}

// walker lists members, keeping the contents keep chooses.
type walker struct {
	keep func(path string, size int64) bool
	kept map[string][]byte
}

// read hashes a regular member (size as its header says), keeping its
// bytes when chosen.
func (w walker) read(path string, size int64, r io.Reader, limit int64) (int64, string, error) {
	if w.keep == nil || size < 0 || !w.keep(path, size) {
		return hashLimited(r, limit)
	}
	var buf bytes.Buffer
	n, sum, err := hashLimited(io.TeeReader(io.LimitReader(r, size+1), &buf), min(limit, size))
	if err == nil {
		w.kept[path] = buf.Bytes()
	}
	return n, sum, err
}

func (w walker) zipMembers(f *os.File, size int64) ([]Member, error) {
	// Count from the end records first: zip.NewReader reads and allocates
	// the whole central directory, however many entries it lists.
	if _, err := dist.CheckZip(f, size, maxMembers); err != nil {
		if errors.Is(err, dist.ErrZipTooBig) {
			return nil, fmt.Errorf("%s: %w", maxMembersError, err)
		}
		return nil, err
	}
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return nil, err
	}
	if len(zr.File) > maxMembers {
		return nil, fmt.Errorf("%s", maxMembersError)
	}
	var ms []Member
	var total int64
	for _, zf := range zr.File {
		m := Member{Path: zf.Name, Mode: zf.Mode().String()}
		if zf.Mode().IsRegular() {
			rc, err := zf.Open()
			if err != nil {
				return nil, err
			}
			m.Size, m.SHA256, err = w.read(zf.Name, int64(zf.UncompressedSize64), rc, maxMemberBytes-total)
			rc.Close()
			if err != nil {
				return nil, err
			}
			total += m.Size
		}
		ms = append(ms, m)
	}
	return ms, nil
}

func (w walker) tarMembers(r io.Reader) ([]Member, error) {
	tr := tar.NewReader(r)
	var ms []Member
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return ms, nil
		}
		if err != nil {
			return nil, err
		}
		if len(ms) >= maxMembers {
			return nil, fmt.Errorf("%s", maxMembersError)
		}
		fi := h.FileInfo()
		m := Member{Path: h.Name, Mode: (fi.Mode() & (fs.ModeType | fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)).String(), Link: h.Linkname}
		if h.Typeflag == tar.TypeReg {
			m.Size, m.SHA256, err = w.read(h.Name, h.Size, tr, maxMemberBytes-total)
			if err != nil {
				return nil, err
			}
			total += m.Size
		}
		ms = append(ms, m)
	}
}

func hashLimited(r io.Reader, limit int64) (int64, string, error) {
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(r, limit+1))
	if err != nil {
		return n, "", err
	}
	if n > limit {
		return n, "", fmt.Errorf("%s", maxMembersError)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
