package dist

import (
	"archive/zip"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"
)

// WheelMetadata reads the METADATA of a wheel's .dist-info: a zip read,
// nothing of the wheel runs. Sizes are capped, the archive is untrusted.
func WheelMetadata(wheelPath string) ([]byte, error) {
	zr, err := zip.OpenReader(wheelPath)
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %w", filepath.Base(wheelPath), err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		dir, base := path.Split(f.Name)
		if base != "METADATA" || strings.Count(dir, "/") != 1 || !strings.HasSuffix(dir, ".dist-info/") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("wheel %s: %w", filepath.Base(wheelPath), err)
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, MaxMetadataBytes))
		if err != nil {
			return nil, fmt.Errorf("wheel %s: METADATA: %w", filepath.Base(wheelPath), err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("wheel %s has no .dist-info/METADATA", filepath.Base(wheelPath))
}
