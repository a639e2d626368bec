// Package localindex serves a PyPI-compatible package index over real HTTP
// from a flat directory of sdists and wheels. Tests and the demo run the
// crawler against it, so it serves the same formats as pypi.org (see
// docs/index-formats.md): the simple API in HTML and JSON, the JSON API,
// the RSS feeds, and the files themselves, optionally from a second
// address as files.pythonhosted.org serves pypi.org's (FilesBaseURL). In
// StaticMirror mode it behaves as a static mirror (bandersnatch behind a
// web server) instead: HTML pages only, relative links, no JSON API, no
// feeds.
//
// Tests change it while it runs (AddFile, Yank, Unyank, Remove), make it
// misbehave (InjectFault: delays, 5xx, 429 with Retry-After, bodies cut
// off, malformed HTML, JSON or XML, stale copies of pages, file bytes that
// do not match their hash), and count what it answered (Stats).
//
// Design: the directory is the source of truth for which files exist; the
// Index keeps an in-memory catalogue (hashes, metadata, serials, yanks)
// built from it. Rescan diffs the directory against the catalogue and
// rehashes only files whose size or mtime changed, so polling a large
// directory is cheap. Every change is a journal entry, as in warehouse: the
// global serial goes up once for each new project, new release, new file,
// yank and removal, and the project touched records that serial as its
// last serial. Responses are rendered from the catalogue on each request;
// their ETag is a hash of the body, so a client's conditional request gets
// a 304 exactly when it would have received the same bytes.
package localindex

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pysmoke/pysmoke/dist"
)

// Options configures an Index. The zero value is ready to use.
type Options struct {
	// BaseURL is the public URL prefix (scheme and host, optionally a
	// path) used in absolute links: file URLs on simple and JSON pages,
	// project and release links in RSS and the JSON API. Empty: derived
	// from each request's Host, which is what tests want because httptest
	// picks the port.
	BaseURL string
	// Now is the clock for upload times of files added with AddFile.
	// Default time.Now; tests pass a fixed clock to get stable feeds.
	Now func() time.Time
	// FilesBaseURL, when set, is where the files are served, as pypi.org
	// links its files on files.pythonhosted.org: file URLs use it, Handler
	// no longer serves /packages/, and FilesHandler does (serve it on a
	// second address). Empty: Handler serves the files itself.
	FilesBaseURL string
	// StaticMirror makes the index behave as a static mirror of PyPI
	// (bandersnatch and the like, behind a plain web server) does: PEP 503
	// HTML simple pages whatever the client asks for, file links relative
	// to the page ("../../packages/..."), the serial only in each page's
	// <!--SERIAL n--> comment (no X-PyPI-Last-Serial header), no JSON API
	// and no RSS feeds (404), and no redirect from a non-normalised name
	// (404), only the web server's own 301 from "/simple/name" to
	// "/simple/name/". Conditional requests still get 304s.
	StaticMirror bool
}

// ErrNotFound reports a project or release the index does not hold.
var ErrNotFound = errors.New("not found")

// ErrFileExists reports an AddFile of a file name the index already has;
// like PyPI, the index never replaces a published file's bytes.
var ErrFileExists = errors.New("file already exists")

// Index is a package index over one directory. Its methods are safe for
// concurrent use; the writers (Rescan, AddFile, Yank, Unyank, Remove) are
// serialised with each other, and readers (the HTTP handlers) never wait
// for hashing.
type Index struct {
	dir       string
	base      string
	filesBase string
	static    bool
	now       func() time.Time

	faults faultList
	stats  stats

	// scanMu serialises the writers (Rescan, AddFile, Yank, ...) so that
	// hashing can run outside mu and a file is never registered twice.
	scanMu  sync.Mutex
	ignored map[string]bool // names already warned about; guarded by scanMu

	mu       sync.RWMutex
	serial   int64
	projects map[string]*project // by normalised name
	files    map[string]*file    // by file name, the directory's key
	byPath   map[string]*file    // by "<sha256>/<filename>", the download URL's key
}

// project is one project of the catalogue.
type project struct {
	name       string // normalised
	display    string // as its first file's metadata (or file name) spells it
	releases   map[string]*release
	created    time.Time // upload time of its first file
	serial     int64     // serial of its creation; orders projects created at the same instant
	lastSerial int64
}

// release is one version of a project.
type release struct {
	version      string // as its first file's name spells it
	parsed       dist.Version
	files        []*file   // sorted by file name
	created      time.Time // upload time of its first file: the feeds' pubDate
	serial       int64     // serial of its creation; orders releases created at the same instant
	yanked       bool
	yankedReason string
}

// file is one distribution file in the directory.
type file struct {
	filename   string
	project    string // normalised
	nameInFile string // project name as the file name spells it
	version    string // as the file name spells it
	parsed     dist.Version
	kind       dist.Kind
	size       int64
	modTime    time.Time // on-disk mtime when hashed: Rescan rehashes only if it or size changes
	uploaded   time.Time
	sha256     string
	md5        string
	blake2b    string
	meta       metadata
	// coreMetadata is a wheel's METADATA, served at its URL + ".metadata"
	// (PEP 658), with its hash; nil for an sdist or an unreadable wheel.
	coreMetadata       []byte
	coreMetadataSHA256 string
}

// New returns an index over dir, creating dir if it is missing, and scans
// it once. Files already in dir count as uploaded at their mtime.
func New(dir string, opts Options) (*Index, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("localindex: %w", err)
	}
	ix := &Index{
		dir:       dir,
		base:      strings.TrimRight(opts.BaseURL, "/"),
		filesBase: strings.TrimRight(opts.FilesBaseURL, "/"),
		static:    opts.StaticMirror,
		now:       opts.Now,
		ignored:   map[string]bool{},
		projects:  map[string]*project{},
		files:     map[string]*file{},
		byPath:    map[string]*file{},
	}
	if ix.now == nil {
		ix.now = time.Now
	}
	if err := ix.Rescan(); err != nil {
		return nil, err
	}
	return ix, nil
}

// Serial returns the global serial: it increases with every change to the
// index and never goes back.
func (ix *Index) Serial() int64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.serial
}

// Rescan brings the catalogue in line with the directory: new files are
// registered (new project, release or file), vanished files removed, and
// files whose size or mtime changed are rehashed and re-registered if
// their bytes changed (a changed file gets a new URL, as on PyPI a file's
// URL always names the same bytes). Files whose names are not sdist or
// wheel names, dot-files and subdirectories are ignored. It returns an
// error only when the directory itself cannot be read; a file that cannot
// be read is logged and retried on the next scan.
func (ix *Index) Rescan() error {
	ix.scanMu.Lock()
	defer ix.scanMu.Unlock()

	entries, err := os.ReadDir(ix.dir)
	if err != nil {
		return fmt.Errorf("localindex: rescan: %w", err)
	}
	type candidate struct {
		name string
		info fs.FileInfo
		df   dist.File
	}
	present := map[string]bool{}
	var changed []candidate
	ix.mu.RLock()
	for _, e := range entries {
		name := e.Name()
		// Dot-files are AddFile's temporaries (and editors' droppings).
		if strings.HasPrefix(name, ".") || !e.Type().IsRegular() {
			continue
		}
		df, err := dist.ParseFilename(name)
		if err != nil {
			if !ix.ignored[name] {
				ix.ignored[name] = true
				slog.Warn("localindex: ignoring file that is not an sdist or wheel", "dir", ix.dir, "file", name)
			}
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed since ReadDir
		}
		present[name] = true
		if old := ix.files[name]; old != nil && old.size == info.Size() && old.modTime.Equal(info.ModTime()) {
			continue
		}
		changed = append(changed, candidate{name, info, df})
	}
	var gone []*file
	for name, f := range ix.files {
		if !present[name] {
			gone = append(gone, f)
		}
	}
	ix.mu.RUnlock()

	// Register in upload (mtime) order so serials and "first file" follow
	// the order the files arrived in.
	slices.SortFunc(changed, func(a, b candidate) int {
		if c := a.info.ModTime().Compare(b.info.ModTime()); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	var fresh []*file
	for _, c := range changed {
		f, err := ix.inspectPath(c.name, c.df)
		if err != nil {
			// Left as it was (unregistered, or registered with its old
			// size and mtime), so the next scan tries again.
			if !errors.Is(err, fs.ErrNotExist) {
				slog.Warn("localindex: cannot read file; will retry", "file", c.name, "err", err)
			}
			continue
		}
		fresh = append(fresh, f)
	}
	slices.SortFunc(gone, func(a, b *file) int { return strings.Compare(a.filename, b.filename) })

	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, f := range gone {
		ix.removeLocked(f, true)
	}
	for _, f := range fresh {
		if old := ix.files[f.filename]; old != nil {
			if old.sha256 == f.sha256 {
				// Touched, not changed: same bytes, same URL, no news.
				old.size, old.modTime = f.size, f.modTime
				continue
			}
			ix.removeLocked(old, false)
		}
		ix.addLocked(f)
	}
	return nil
}

// inspectPath hashes the file name in the directory and reads its metadata.
func (ix *Index) inspectPath(name string, df dist.File) (*file, error) {
	fh, err := os.Open(filepath.Join(ix.dir, name))
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	// Stat the open file: the bytes hashed are the ones this size and mtime
	// describe, even if the file is replaced meanwhile.
	info, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	f, err := inspect(fh, info.Size(), name, df)
	if err != nil {
		return nil, err
	}
	f.modTime = info.ModTime()
	f.uploaded = info.ModTime()
	return f, nil
}

// Watch rescans the directory every interval (one second if every <= 0)
// until ctx is done, logging scan errors; run it in its own goroutine to
// pick up files that another process drops into the directory.
func (ix *Index) Watch(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := ix.Rescan(); err != nil {
				slog.Error("localindex: rescan failed", "dir", ix.dir, "err", err)
			}
		}
	}
}

// AddFile publishes a file: it writes data into the directory under
// filename and registers it at once, uploaded at Now(). The file is written
// under a temporary name and renamed into place, so a concurrent scan by
// another index over the same directory never sees half a file. It fails
// with ErrFileExists if the name is already taken, and rejects names that
// are not sdist or wheel names.
func (ix *Index) AddFile(filename string, data []byte) error {
	df, err := dist.ParseFilename(filename)
	if err != nil {
		return fmt.Errorf("localindex: add file: %w", err)
	}
	ix.scanMu.Lock()
	defer ix.scanMu.Unlock()

	ix.mu.RLock()
	_, known := ix.files[filename]
	ix.mu.RUnlock()
	path := filepath.Join(ix.dir, filename)
	if _, err := os.Lstat(path); known || err == nil {
		return fmt.Errorf("localindex: add file %s: %w", filename, ErrFileExists)
	}

	f, err := inspect(bytes.NewReader(data), int64(len(data)), filename, df)
	if err != nil {
		return fmt.Errorf("localindex: add file %s: %w", filename, err)
	}
	now := ix.now()
	if err := writeFileAtomic(ix.dir, filename, data, now); err != nil {
		return fmt.Errorf("localindex: add file: %w", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("localindex: add file: %w", err)
	}
	// Record the mtime as stored (file systems round it) so Rescan sees the
	// file as unchanged; the upload time keeps the clock's full precision.
	f.modTime = info.ModTime()
	f.uploaded = now

	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.addLocked(f)
	return nil
}

// writeFileAtomic writes data to dir/name via a dot-file and a rename, with
// mtime set to the upload time so that a later index over the same
// directory dates the file the same way.
func writeFileAtomic(dir, name string, data []byte, mtime time.Time) error {
	tmp, err := os.CreateTemp(dir, ".addfile-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Chtimes(tmp.Name(), mtime, mtime); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, name))
}

// Yank marks every file of a release yanked with reason (empty: yanked
// without a reason). The yank lives in memory for as long as the release
// has files. The project name may be in any spelling and the version is
// matched in canonical form; unknown ones give ErrNotFound.
func (ix *Index) Yank(projectName, version, reason string) error {
	ix.scanMu.Lock()
	defer ix.scanMu.Unlock()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	p, r := ix.lookupLocked(projectName, version)
	if r == nil {
		return fmt.Errorf("localindex: yank %s %s: %w", projectName, version, ErrNotFound)
	}
	if r.yanked && r.yankedReason == reason {
		return nil
	}
	r.yanked, r.yankedReason = true, reason
	ix.serial++
	p.lastSerial = ix.serial
	return nil
}

// Unyank lifts a yank (PyPI lets maintainers undo one). Unknown project or
// version: ErrNotFound; a release that is not yanked is left as it is.
func (ix *Index) Unyank(projectName, version string) error {
	ix.scanMu.Lock()
	defer ix.scanMu.Unlock()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	p, r := ix.lookupLocked(projectName, version)
	if r == nil {
		return fmt.Errorf("localindex: unyank %s %s: %w", projectName, version, ErrNotFound)
	}
	if !r.yanked {
		return nil
	}
	r.yanked, r.yankedReason = false, ""
	ix.serial++
	p.lastSerial = ix.serial
	return nil
}

// Remove deletes a published file, from the directory and the index, as a
// maintainer's deletion on PyPI does; a release (and a project) left with
// no files goes too. Each removal is a journal entry. Unknown file names
// give ErrNotFound.
func (ix *Index) Remove(filename string) error {
	ix.scanMu.Lock()
	defer ix.scanMu.Unlock()
	ix.mu.RLock()
	f := ix.files[filename]
	ix.mu.RUnlock()
	if f == nil {
		return fmt.Errorf("localindex: remove %s: %w", filename, ErrNotFound)
	}
	if err := os.Remove(filepath.Join(ix.dir, filename)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("localindex: remove %s: %w", filename, err)
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.removeLocked(f, true)
	return nil
}

// FilePath returns the URL path under which a published file is served
// ("/packages/aa/bb/<sha256>/<name>"), for tests that aim a fault at it.
func (ix *Index) FilePath(filename string) (string, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	f := ix.files[filename]
	if f == nil {
		return "", false
	}
	return filePath(f), true
}

// SHA256 returns the hash the index lists for a published file.
func (ix *Index) SHA256(filename string) (string, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	f := ix.files[filename]
	if f == nil {
		return "", false
	}
	return f.sha256, true
}

// lookupLocked finds a project by any spelling of its name and a release
// by any spelling of its version; either result may be nil.
func (ix *Index) lookupLocked(projectName, version string) (*project, *release) {
	p := ix.projects[dist.Normalize(projectName)]
	if p == nil {
		return nil, nil
	}
	v, err := dist.ParseVersion(version)
	if err != nil {
		return p, nil
	}
	return p, p.releaseFor(v)
}

// releaseFor finds p's release of v in any spelling that PEP 440 deems
// equal: 1.0, 1.0.0 and 1.0-0 are one release, as on PyPI.
func (p *project) releaseFor(v dist.Version) *release {
	if r := p.releases[v.Canonical()]; r != nil {
		return r
	}
	for _, r := range p.releases {
		if r.parsed.Compare(v) == 0 {
			return r
		}
	}
	return nil
}

// addLocked registers f, creating its project and release as needed; one
// serial per journal entry, as warehouse does.
func (ix *Index) addLocked(f *file) {
	p := ix.projects[f.project]
	if p == nil {
		ix.serial++
		display := f.nameInFile
		if f.meta.name != "" && dist.Normalize(f.meta.name) == f.project {
			display = f.meta.name
		}
		p = &project{name: f.project, display: display, releases: map[string]*release{}, created: f.uploaded, serial: ix.serial}
		ix.projects[f.project] = p
	}
	r := p.releaseFor(f.parsed)
	if r == nil {
		ix.serial++
		r = &release{version: f.version, parsed: f.parsed, created: f.uploaded, serial: ix.serial}
		p.releases[f.parsed.Canonical()] = r
	}
	ix.serial++
	i, _ := slices.BinarySearchFunc(r.files, f.filename, func(g *file, name string) int { return strings.Compare(g.filename, name) })
	r.files = slices.Insert(r.files, i, f)
	if f.uploaded.Before(r.created) {
		r.created = f.uploaded
	}
	if f.uploaded.Before(p.created) {
		p.created = f.uploaded
	}
	p.lastSerial = ix.serial
	ix.files[f.filename] = f
	ix.byPath[f.sha256+"/"+f.filename] = f
}

// removeLocked unregisters f and, if cascade, drops its release and
// project once they have no files left, each removal a journal entry. A
// file replaced in place does not cascade: its release lives on.
func (ix *Index) removeLocked(f *file, cascade bool) {
	delete(ix.files, f.filename)
	delete(ix.byPath, f.sha256+"/"+f.filename)
	p := ix.projects[f.project]
	if p == nil {
		return
	}
	r := p.releaseFor(f.parsed)
	if r == nil {
		return
	}
	r.files = slices.DeleteFunc(r.files, func(g *file) bool { return g == f })
	ix.serial++
	p.lastSerial = ix.serial
	if len(r.files) > 0 || !cascade {
		return
	}
	delete(p.releases, r.parsed.Canonical())
	ix.serial++
	p.lastSerial = ix.serial
	if len(p.releases) > 0 {
		return
	}
	delete(ix.projects, f.project)
	ix.serial++
}
