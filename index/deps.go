package index

// The client as the index of dependency resolution (resolver.Index): a
// release's dependencies are the only files pysmoke downloads outside the
// allowlist, and only those a resolution chose or needed the metadata of.
//
// Metadata comes, without running anything, from the index's PEP 658 file
// beside a wheel (verified against the hash the page gives), else from the
// METADATA inside the wheel, which is then downloaded into the mirror and
// verified like every file. An sdist's metadata cannot be read without
// running its build: the client refuses it (ErrSdistMetadata) and the
// runner makes it inside a sandbox. Metadata read once is kept beside the
// file in the mirror ("<file>.metadata"), keyed by the file's hash.
//
// Project pages are read afresh for every resolution (no ETag), so that a
// file removed from the index is gone for the next job.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/resolver"
)

var _ resolver.Index = (*Client)(nil)

// ErrSdistMetadata is returned by Metadata for an sdist: its metadata is
// made by running its build, which only a sandbox may do.
var ErrSdistMetadata = errors.New("an sdist's metadata is made in a sandbox, not read by the index client")

// Files lists a project's files as resolution candidates: every file the
// index lists with a SHA-256 and a name pysmoke can read (others can never
// be verified or used). The error wraps resolver.ErrNoProject when the
// index does not have the project.
func (c *Client) Files(ctx context.Context, project string) ([]resolver.Candidate, error) {
	name, err := dist.NormalizeValid(project)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", project, resolver.ErrNoProject)
	}
	pg, err := c.Page(ctx, name, "")
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%s: %w", name, resolver.ErrNoProject)
	}
	if err != nil {
		return nil, err
	}
	var out []resolver.Candidate
	for _, f := range pg.Files {
		df, err := dist.ParseFilename(f.Filename)
		if err != nil || !hexSHA256.MatchString(f.SHA256) || dist.Normalize(df.Name) != name {
			continue
		}
		out = append(out, resolver.Candidate{
			Project: name, Version: df.Version, Filename: f.Filename, URL: f.URL, SHA256: f.SHA256,
			RequiresPython: f.RequiresPython, Yanked: f.Yanked, CoreMetadata: f.CoreMetadata,
		})
	}
	return out, nil
}

// Metadata returns a wheel's core metadata (see the file comment); for an
// sdist an error wrapping ErrSdistMetadata.
func (c *Client) Metadata(ctx context.Context, cand resolver.Candidate) (dist.Metadata, error) {
	df, err := dist.ParseFilename(cand.Filename)
	if err != nil {
		return dist.Metadata{}, err
	}
	if !hexSHA256.MatchString(cand.SHA256) {
		return dist.Metadata{}, fmt.Errorf("%s: no SHA-256 to verify it", cand.Filename)
	}
	cached := c.Path(cand.SHA256, cand.Filename) + ".metadata"
	if b, err := os.ReadFile(cached); err == nil {
		return dist.ParseMetadata(bytes.NewReader(b))
	}
	if df.Kind != dist.Wheel {
		return dist.Metadata{}, fmt.Errorf("%s: %w", cand.Filename, ErrSdistMetadata)
	}
	var raw []byte
	if cand.CoreMetadata != "" {
		raw, err = c.coreMetadata(ctx, cand)
		if err != nil {
			// The index announced a file it does not serve well; the
			// wheel itself still has the metadata.
			c.log.Warn("PEP 658 metadata unusable; reading the wheel", "file", cand.Filename, "err", err)
		}
	}
	if raw == nil {
		p, err := c.Fetch(ctx, cand)
		if err != nil {
			return dist.Metadata{}, err
		}
		if raw, err = dist.WheelMetadata(p); err != nil {
			return dist.Metadata{}, err
		}
	}
	m, err := dist.ParseMetadata(bytes.NewReader(raw))
	if err != nil {
		return dist.Metadata{}, fmt.Errorf("%s: %w", cand.Filename, err)
	}
	if err := saveMetadata(c.opts.MirrorDir, cand.SHA256, cand.Filename, raw); err != nil {
		c.log.Warn("keep metadata in the mirror", "file", cand.Filename, "err", err)
	}
	return m, nil
}

// coreMetadata downloads a wheel's PEP 658 metadata file and checks it
// against the hash the page announced.
func (c *Client) coreMetadata(ctx context.Context, cand resolver.Candidate) ([]byte, error) {
	resp, err := c.get(ctx, c.pages, cand.URL+".metadata", "", "", dist.MaxMetadataBytes)
	if err != nil {
		return nil, err
	}
	if resp.status != http.StatusOK {
		return nil, fmt.Errorf("GET %s.metadata: HTTP %d", cand.URL, resp.status)
	}
	if want, ok := strings.CutPrefix(cand.CoreMetadata, "sha256="); ok {
		sum := sha256.Sum256(resp.body)
		if got := hex.EncodeToString(sum[:]); got != want {
			return nil, fmt.Errorf("%s.metadata: SHA-256 mismatch: the index says %s, the bytes served are %s", cand.Filename, want, got)
		}
	}
	return resp.body, nil
}

// Fetch puts a candidate's file into the mirror, verified against its
// SHA-256, and returns its path there.
func (c *Client) Fetch(ctx context.Context, cand resolver.Candidate) (string, error) {
	err := c.Download(ctx, File{Filename: cand.Filename, URL: cand.URL, SHA256: cand.SHA256, Size: -1})
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", cand.Filename, err)
	}
	return c.Path(cand.SHA256, cand.Filename), nil
}

// saveMetadata keeps a wheel's metadata in the mirror beside it, for the
// next resolution. (An sdist's is not kept: it is whatever its build says
// on one interpreter, made again by each job that needs it.)
func saveMetadata(mirrorDir, sha256hex, filename string, raw []byte) error {
	p := MirrorPath(mirrorDir, sha256hex, filename) + ".metadata"
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".meta-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}
