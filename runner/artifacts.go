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

// Collection caps: outputs are attack surface too.
const (
	maxArtifacts     = 1000
	maxArtifactBytes = 1 << 30
)

// collect lists the regular files under the folder dir of scratch with
// their sizes and hashes, and the members of each archive, without
// following links out of the scratch (dir itself is opened through it:
// the step may have made it a link) and with count and size caps.
func collect(scratch *os.Root, dir string) ([]outcome.Artifact, error) {
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
		}
		arts = append(arts, art)
		return nil
	})
	sort.Slice(arts, func(i, j int) bool { return arts[i].Path < arts[j].Path })
	return arts, err
}
