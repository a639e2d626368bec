package index

// The mirror keeps downloaded files by SHA-256. A file is written under a
// temporary name, hashed as it arrives, and renamed into place only when
// its bytes match the hash the index gave: nothing else ever sees bytes
// that do not match. A transfer that breaks off is retried (by the HTTP
// client, then on the next poll); a file that arrives whole with other
// bytes is refused for good, and recorded (store.BadFile).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"github.com/pysmoke/pysmoke/dist"
)

// MirrorPath is where a mirror in mirrorDir keeps a file: by hash, under
// its own name (the name's extension tells how to unpack it).
func MirrorPath(mirrorDir, sha256hex, filename string) string {
	return filepath.Join(mirrorDir, sha256hex[:2], sha256hex, filepath.Base(filename))
}

// Path is where the client's mirror keeps a file.
func (c *Client) Path(sha256hex, filename string) string {
	return MirrorPath(c.opts.MirrorDir, sha256hex, filename)
}

// BadFileError is a file the index lists that can never be used: its
// bytes do not match its hash, or it has no hash to check.
type BadFileError struct {
	Msg string
	// GotSHA256 is the hash of the bytes served; "" when nothing was
	// downloaded.
	GotSHA256 string
}

func (e *BadFileError) Error() string { return e.Msg }

// Download puts a file into the mirror unless it is there. It returns a
// *BadFileError for a file that can never be used, any other error for a
// failure worth retrying.
func (c *Client) Download(ctx context.Context, f File) error {
	if !hexSHA256.MatchString(f.SHA256) {
		return &BadFileError{Msg: f.Filename + ": the index gives no SHA-256 to verify it"}
	}
	if _, err := dist.ParseFilename(f.Filename); err != nil {
		return &BadFileError{Msg: err.Error()}
	}
	if u, err := url.Parse(f.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &BadFileError{Msg: fmt.Sprintf("%s: URL %q is not an http(s) URL", f.Filename, f.URL)}
	}
	dst := c.Path(f.SHA256, f.Filename)
	if _, err := os.Stat(dst); err == nil {
		return nil // verified when it was put there
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	req, err := newRequest(ctx, f.URL)
	if err != nil {
		return err
	}
	var (
		bad     *BadFileError
		placed  bool
		tooBig  bool
		tmpName string
	)
	// The body is read inside the client's retry loop: a transfer that
	// breaks off is retried like a failed request.
	req.SetResponseHandler(func(resp *http.Response) error {
		if resp.StatusCode != http.StatusOK {
			return nil
		}
		defer resp.Body.Close()
		tmp, err := os.CreateTemp(filepath.Dir(dst), ".part-*")
		if err != nil {
			return err
		}
		tmpName = tmp.Name()
		defer os.Remove(tmpName) // no-op once renamed
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(resp.Body, c.opts.MaxFileBytes+1))
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("download %s: %w", f.Filename, err)
		}
		if n > c.opts.MaxFileBytes {
			tooBig = true
			return nil
		}
		if resp.ContentLength < 0 && f.Size >= 0 && n < f.Size {
			// No length was announced, so a connection closed early
			// looks like the end of the body; the index's size says not.
			return fmt.Errorf("download %s: %d bytes of %d", f.Filename, n, f.Size)
		}
		got := hex.EncodeToString(h.Sum(nil))
		if got != f.SHA256 {
			msg := fmt.Sprintf("%s: SHA-256 mismatch: the index says %s, the %d bytes served are %s", f.Filename, f.SHA256, n, got)
			if f.Size >= 0 && n != f.Size {
				msg += fmt.Sprintf(" (the index says %d bytes)", f.Size)
			}
			bad = &BadFileError{Msg: msg, GotSHA256: got}
			return nil
		}
		if err := os.Rename(tmpName, dst); err != nil {
			return fmt.Errorf("mirror: %w", err)
		}
		placed = true
		return nil
	})
	c.requests.Add(1)
	c.downloads.Add(1)
	resp, err := c.files.Do(req)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil || (resp != nil && (resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests)) {
		c.failed.Add(1)
	}
	switch {
	case err != nil:
		return fmt.Errorf("download %s: %w", f.Filename, err)
	case bad != nil:
		c.mismatches.Add(1)
		return bad
	case tooBig:
		return &BadFileError{Msg: fmt.Sprintf("%s is larger than %d bytes", f.Filename, c.opts.MaxFileBytes)}
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("download %s: HTTP %s", f.Filename, resp.Status)
	case !placed:
		return errors.New("download " + f.Filename + ": no body")
	}
	return nil
}
