package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"

	"github.com/pysmoke/pysmoke/archive"
	"github.com/pysmoke/pysmoke/outcome"
)

// ArtifactKeeper keeps the archives the steps produce beyond the job (the
// artifacts package's Store): Put copies a file in and returns its SHA-256.
type ArtifactKeeper interface {
	Put(r io.Reader) (sha256 string, size int64, err error)
}

// Collection caps: outputs are attack surface too.
const (
	maxArtifacts     = 1000
	maxArtifactBytes = 1 << 30
)

// collect lists the regular files under the folder dir of scratch with
// their sizes and hashes, and the members of each archive, without
// following links out of the scratch (dir itself is opened through it:
// the step may have made it a link) and with count and size caps.
//
// With keep set, each archive is also kept there (a content-addressed
// store), so that it outlives the scratch.
func collect(scratch *os.Root, dir string, keep ArtifactKeeper) ([]outcome.Artifact, error) {
	root, err := scratch.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var arts []outcome.Artifact
	var total int64
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if len(arts) >= maxArtifacts {
			return fmt.Errorf("more than %d output files", maxArtifacts)
		}
		f, err := root.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		total += fi.Size()
		if total > maxArtifactBytes {
			return fmt.Errorf("outputs larger than %d bytes", maxArtifactBytes)
		}
		h := sha256.New()
		n, err := io.Copy(h, io.LimitReader(f, fi.Size()))
		if err != nil {
			return err
		}
		art := outcome.Artifact{Path: p, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
		if archive.IsArchive(p) {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			// A broken archive is an error in the manifest, not a failure.
			ms, err := archive.Members(f, p, fi.Size())
			if err != nil {
				art.MembersError = err.Error()
			}
			for _, m := range ms {
				art.Members = append(art.Members, outcome.Member{Path: m.Path, Size: m.Size, Mode: m.Mode, SHA256: m.SHA256, Link: m.Link})
			}
			if keep != nil {
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					return err
				}
				sum, _, err := keep.Put(io.LimitReader(f, n))
				if err != nil {
					return fmt.Errorf("keep %s: %w", p, err)
				}
				if sum != art.SHA256 {
					return fmt.Errorf("keep %s: it changed while read", p)
				}
			}
		}
		arts = append(arts, art)
		return nil
	})
	sort.Slice(arts, func(i, j int) bool { return arts[i].Path < arts[j].Path })
	return arts, err
}
