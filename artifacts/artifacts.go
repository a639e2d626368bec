// Package artifacts keeps the files the steps produce (sdists, bdists,
// wheels) in a content-addressed store: each file under its SHA-256, so
// that identical files (the same universal wheel built on nine Pythons)
// are kept once. Diffs are computed from what it keeps.
package artifacts

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// Store is a folder of files named by their SHA-256 ("ab/abcdef...").
type Store struct{ dir string }

// Open opens (making it if needed) the store in dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, fmt.Errorf("artifacts: %w", err)
	}
	return &Store{dir: dir}, nil
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Put copies what r holds into the store and returns its SHA-256 and
// size; a file the store holds already is not written twice.
func (s *Store) Put(r io.Reader) (string, int64, error) {
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "put-")
	if err != nil {
		return "", 0, fmt.Errorf("artifacts: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, fmt.Errorf("artifacts: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	dst := s.path(sum)
	if _, err := os.Stat(dst); err == nil {
		// Kept once. Touched, so that Prune's grace period counts from
		// this Put: the run that put it has not recorded it yet.
		now := time.Now()
		if err := os.Chtimes(dst, now, now); err != nil {
			return "", 0, fmt.Errorf("artifacts: %w", err)
		}
		return sum, n, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", 0, fmt.Errorf("artifacts: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o444); err != nil {
		return "", 0, fmt.Errorf("artifacts: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", 0, fmt.Errorf("artifacts: %w", err)
	}
	return sum, n, nil
}

func (s *Store) path(sum string) string { return filepath.Join(s.dir, sum[:2], sum) }

// ErrNotKept is returned by Path for a file the store does not hold.
var ErrNotKept = errors.New("artifacts: not kept")

// Path returns the host path of the file with that SHA-256.
func (s *Store) Path(sum string) (string, error) {
	if !hexSHA256.MatchString(sum) {
		return "", fmt.Errorf("artifacts: %q is no SHA-256", sum)
	}
	p := s.path(sum)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%w: %s", ErrNotKept, sum)
	}
	return p, nil
}

// Usage is how much the store holds.
type Usage struct {
	Files int
	Bytes int64
}

// Usage counts the files the store holds and their bytes.
func (s *Store) Usage() (Usage, error) {
	var u Usage
	err := s.walk(func(_, _ string, fi fs.FileInfo) error {
		u.Files++
		u.Bytes += fi.Size()
		return nil
	})
	return u, err
}

// Prune removes every file that keep does not want and that no Put has
// touched since before: a file put by a run still going, which has not
// recorded it yet, is spared by a before far enough back (longer than a
// job). It returns what it freed.
func (s *Store) Prune(keep func(sha256 string) bool, before time.Time) (Usage, error) {
	return s.prune(keep, before, true)
}

// Unused counts what Prune(keep, before) would remove, removing nothing.
func (s *Store) Unused(keep func(sha256 string) bool, before time.Time) (Usage, error) {
	return s.prune(keep, before, false)
}

func (s *Store) prune(keep func(sha256 string) bool, before time.Time, remove bool) (Usage, error) {
	var freed Usage
	err := s.walk(func(p string, sum string, fi fs.FileInfo) error {
		if keep(sum) || !fi.ModTime().Before(before) {
			return nil
		}
		if remove {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
		freed.Files++
		freed.Bytes += fi.Size()
		return nil
	})
	if err != nil {
		return freed, fmt.Errorf("artifacts: prune: %w", err)
	}
	return freed, nil
}

// walk calls f for each file the store holds.
func (s *Store) walk(f func(path, sha256 string, fi fs.FileInfo) error) error {
	return filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "tmp" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() && hexSHA256.MatchString(d.Name()) {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return f(p, d.Name(), fi)
		}
		return nil
	})
}
