package dist

import (
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
)

// WheelMetadata reads the METADATA of a wheel's .dist-info: a zip read,
// nothing of the wheel runs. Sizes are capped, the archive is untrusted.
func WheelMetadata(wheelPath string) ([]byte, error) {
	return WheelInfoFile(wheelPath, "METADATA", MaxMetadataBytes)
}

// WheelInfoFile reads one file of a wheel's own .dist-info folder (the one
// at the top of the archive, never one deeper inside it), at most max
// bytes. A wheel without that file is an error wrapping fs.ErrNotExist.
func WheelInfoFile(wheelPath, name string, max int64) ([]byte, error) {
	zr, err := zip.OpenReader(wheelPath)
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %w", filepath.Base(wheelPath), err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		dir, base := path.Split(f.Name)
		if base != name || strings.Count(dir, "/") != 1 || !strings.HasSuffix(dir, ".dist-info/") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("wheel %s: %w", filepath.Base(wheelPath), err)
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, max))
		if err != nil {
			return nil, fmt.Errorf("wheel %s: %s: %w", filepath.Base(wheelPath), name, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("wheel %s has no .dist-info/%s: %w", filepath.Base(wheelPath), name, fs.ErrNotExist)
}
