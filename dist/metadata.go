package dist

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strings"
)

// Metadata is what pysmoke reads of a distribution's core metadata
// (PKG-INFO in an sdist, METADATA in a wheel, or the index's .metadata
// file beside a wheel, PEP 658).
type Metadata struct {
	Name           string
	Version        string
	RequiresPython string
	RequiresDist   []string
	ProvidesExtra  []string // normalised
}

// MaxMetadataBytes caps what is read of a metadata file: real ones are a
// few kilobytes, plus the description, which may be long.
const MaxMetadataBytes = 4 << 20

// ParseMetadata reads core metadata (RFC 822 style headers; the body, the
// long description, is ignored).
func ParseMetadata(r io.Reader) (Metadata, error) {
	tp := textproto.NewReader(bufio.NewReader(io.LimitReader(r, MaxMetadataBytes)))
	h, err := tp.ReadMIMEHeader()
	if err != nil && !(errors.Is(err, io.EOF) && len(h) > 0) {
		return Metadata{}, fmt.Errorf("core metadata: %w", err)
	}
	m := Metadata{
		Name:           strings.TrimSpace(h.Get("Name")),
		Version:        strings.TrimSpace(h.Get("Version")),
		RequiresPython: strings.TrimSpace(h.Get("Requires-Python")),
	}
	if m.Name == "" || m.Version == "" {
		return Metadata{}, errors.New("core metadata: no Name or Version")
	}
	for _, r := range h.Values("Requires-Dist") {
		if r = strings.TrimSpace(r); r != "" {
			m.RequiresDist = append(m.RequiresDist, r)
		}
	}
	for _, e := range h.Values("Provides-Extra") {
		if e = strings.TrimSpace(e); e != "" {
			m.ProvidesExtra = append(m.ProvidesExtra, Normalize(e))
		}
	}
	return m, nil
}
