package localindex

// Reading what the index needs from a distribution file: its digests and a
// few core-metadata fields. Archives come from anywhere, so every read is
// capped and any archive error just leaves the metadata empty: a broken
// sdist is still a file the index serves, exactly as PyPI would.

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/bzip2"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/mail"
	"strings"

	"golang.org/x/crypto/blake2b"

	"github.com/pysmoke/pysmoke/dist"
)

const (
	// maxMetadataBytes caps the PKG-INFO or METADATA read; the fields we
	// want come before the long description anyway.
	maxMetadataBytes = 1 << 20
	// maxTarScanBytes caps how much of a tarball is decompressed while
	// looking for PKG-INFO, so a tar bomb cannot stall a scan.
	maxTarScanBytes = 64 << 20
	// maxTarEntries caps the members looked at for the same reason.
	maxTarEntries = 10000
)

// metadata holds the core-metadata fields the index serves.
type metadata struct {
	name           string
	summary        string
	requiresPython string
	authorEmail    string
}

// archive is what inspect reads: an open file or an in-memory upload.
type archive interface {
	io.Reader
	io.ReaderAt
	io.Seeker
}

// inspect hashes the file behind r and reads its metadata.
func inspect(r archive, size int64, filename string, df dist.File) (*file, error) {
	v, err := dist.ParseVersion(df.Version)
	if err != nil {
		return nil, err // ParseFilename checked it; kept for safety
	}
	s256, m5 := sha256.New(), md5.New()
	b2, err := blake2b.New256(nil)
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(io.MultiWriter(s256, m5, b2), r)
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w", filename, err)
	}
	if n != size {
		return nil, fmt.Errorf("hash %s: read %d bytes, want %d", filename, n, size)
	}
	f := &file{
		filename:   filename,
		project:    dist.Normalize(df.Name),
		nameInFile: df.Name,
		version:    df.Version,
		parsed:     v,
		kind:       df.Kind,
		size:       size,
		sha256:     hex.EncodeToString(s256.Sum(nil)),
		md5:        hex.EncodeToString(m5.Sum(nil)),
		blake2b:    hex.EncodeToString(b2.Sum(nil)),
	}
	if _, err := r.Seek(0, io.SeekStart); err == nil {
		if raw := readMetadata(r, size, df); raw != nil {
			f.meta = parseMetadata(raw)
			if df.Kind == dist.Wheel {
				// PEP 658: a wheel's METADATA is served beside it, as
				// is, so that a resolver need not download the wheel.
				sum := sha256.Sum256(raw)
				f.coreMetadata, f.coreMetadataSHA256 = raw, hex.EncodeToString(sum[:])
			}
		}
	}
	return f, nil
}

// readMetadata returns the raw core metadata of an sdist (PKG-INFO at the
// top of its one directory) or a wheel (METADATA in its .dist-info), or nil.
func readMetadata(r archive, size int64, df dist.File) []byte {
	switch df.Ext {
	case ".whl":
		return zipMember(r, size, func(parts []string) bool {
			return len(parts) == 2 && strings.HasSuffix(parts[0], ".dist-info") && parts[1] == "METADATA"
		})
	case ".zip":
		return zipMember(r, size, isPKGInfo)
	case ".tar.gz", ".tgz":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil
		}
		defer zr.Close()
		return tarMember(zr)
	case ".tar.bz2":
		return tarMember(bzip2.NewReader(r))
	}
	return nil
}

// isPKGInfo matches "<dir>/PKG-INFO", not the copy inside *.egg-info.
func isPKGInfo(parts []string) bool { return len(parts) == 2 && parts[1] == "PKG-INFO" }

func memberParts(name string) []string {
	return strings.Split(strings.TrimPrefix(name, "./"), "/")
}

func zipMember(r io.ReaderAt, size int64, match func([]string) bool) []byte {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil
	}
	for _, m := range zr.File {
		if !match(memberParts(m.Name)) {
			continue
		}
		rc, err := m.Open()
		if err != nil {
			return nil
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, maxMetadataBytes))
		if err != nil {
			return nil
		}
		return b
	}
	return nil
}

func tarMember(r io.Reader) []byte {
	tr := tar.NewReader(io.LimitReader(r, maxTarScanBytes))
	for range maxTarEntries {
		h, err := tr.Next()
		if err != nil {
			return nil
		}
		if h.Typeflag != tar.TypeReg || !isPKGInfo(memberParts(h.Name)) {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxMetadataBytes))
		if err != nil {
			return nil
		}
		return b
	}
	return nil
}

// parseMetadata reads the fields we serve from an RFC 822 style core
// metadata header block. It is lenient on purpose: malformed lines are
// skipped rather than failing the whole file, and the first occurrence of
// a field wins.
func parseMetadata(raw []byte) metadata {
	fields := map[string]string{}
	var last string
	sc := bufio.NewScanner(strings.NewReader(strings.ToValidUTF8(string(raw), "\uFFFD")))
	sc.Buffer(make([]byte, 0, 64<<10), maxMetadataBytes)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break // the body (long description) follows
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last != "" {
				fields[last] += " " + strings.TrimSpace(line)
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			last = ""
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if _, seen := fields[k]; seen {
			last = ""
			continue
		}
		fields[k] = strings.TrimSpace(v)
		last = k
	}
	return metadata{
		name:           fields["name"],
		summary:        fields["summary"],
		requiresPython: fields["requires-python"],
		authorEmail:    fields["author-email"],
	}
}

// rssAuthor formats Author-email for an RSS item the way warehouse does:
// the bare addresses, comma separated, and nothing unless every one of
// them looks like an address.
func rssAuthor(authorEmail string) string {
	if authorEmail == "" {
		return ""
	}
	addrs, err := mail.ParseAddressList(authorEmail)
	if err != nil || len(addrs) == 0 {
		return ""
	}
	out := make([]string, len(addrs))
	for i, a := range addrs {
		if !strings.Contains(a.Address, "@") {
			return ""
		}
		out[i] = a.Address
	}
	return strings.Join(out, ", ")
}
