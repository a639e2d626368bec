package dist

import (
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// WheelMetadata reads the METADATA of a wheel's .dist-info: a zip read,
// nothing of the wheel runs. Sizes are capped, the archive is untrusted.
func WheelMetadata(wheelPath string) ([]byte, error) {
	return WheelInfoFile(wheelPath, "METADATA", MaxMetadataBytes)
}

// MaxWheelEntries caps the members of a wheel WheelInfoFile opens. It is
// looser than the 20,000 the runner allows the archives a package builds:
// this also reads the wheels of dependencies, which the package under test
// does not control, and large real wheels hold many thousands of files.
const MaxWheelEntries = 50000

// WheelInfoFile reads one file of a wheel's own .dist-info folder (the one
// at the top of the archive, never one deeper inside it), at most max
// bytes. A wheel without that file is an error wrapping fs.ErrNotExist; one
// of more than MaxWheelEntries members, an error wrapping ErrZipTooBig.
func WheelInfoFile(wheelPath, name string, max int64) ([]byte, error) {
	f, err := os.Open(wheelPath)
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %w", filepath.Base(wheelPath), err)
	}
	defer f.Close()
	return WheelInfoFileOf(f, filepath.Base(wheelPath), name, max)
}

// WheelInfoFileOf is WheelInfoFile of a wheel already open (through an
// os.Root, for one a package built), named wheelName in errors.
func WheelInfoFileOf(f *os.File, wheelName, name string, max int64) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %w", wheelName, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("wheel %s: not a regular file", wheelName)
	}
	// zip.NewReader reads the whole central directory: count it first.
	if _, err := CheckZip(f, fi.Size(), MaxWheelEntries); err != nil {
		return nil, fmt.Errorf("wheel %s: %w", wheelName, err)
	}
	zr, err := zip.NewReader(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("wheel %s: %w", wheelName, err)
	}
	for _, f := range zr.File {
		dir, base := path.Split(f.Name)
		if base != name || strings.Count(dir, "/") != 1 || !strings.HasSuffix(dir, ".dist-info/") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("wheel %s: %w", wheelName, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, max))
		if err != nil {
			return nil, fmt.Errorf("wheel %s: %s: %w", wheelName, name, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("wheel %s has no .dist-info/%s: %w", wheelName, name, fs.ErrNotExist)
}
