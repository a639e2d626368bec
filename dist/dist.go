// Package dist holds the identity of Python distributions as the index
// names them: normalised project names (PEP 503), PEP 440 versions, and the
// file names of sdists and wheels. Every package of pysmoke derives keys,
// URLs and paths from these functions so that "Foo.Bar", "foo_bar" and
// "foo-bar" are one project everywhere.
package dist

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"
)

var (
	// ASCII only (PEP 508): with (?i), [A-Z] would also match the long s
	// "ſ" and the Kelvin sign "K", which fold to "s" and "k".
	validName = regexp.MustCompile(`^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$`)
	separator = regexp.MustCompile(`[-_.]+`)

	localSeparators = strings.NewReplacer("-", ".", "_", ".")
)

// ErrInvalidName reports a project name that PyPI would not accept.
var ErrInvalidName = errors.New("invalid project name")

// ValidName reports whether name is a project name PyPI accepts.
func ValidName(name string) bool { return validName.MatchString(name) }

// Normalize returns the PEP 503 normalised form of a project name: lower
// case, every run of "-", "_" and "." replaced by one "-". It does not
// validate; use NormalizeValid for names that come from outside.
func Normalize(name string) string {
	return strings.ToLower(separator.ReplaceAllString(name, "-"))
}

// NormalizeValid validates name and returns its normalised form.
func NormalizeValid(name string) (string, error) {
	if !ValidName(name) {
		return "", fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	return Normalize(name), nil
}

// Version is a parsed PEP 440 version.
type Version struct {
	raw string
	v   pep440.Version
}

// ParseVersion parses a PEP 440 version string.
func ParseVersion(s string) (Version, error) {
	v, err := pep440.Parse(s)
	if err != nil {
		return Version{}, fmt.Errorf("version %q: %w", s, err)
	}
	// The library keeps "-" and "_" in a local label, which PEP 440
	// normalises to "." ("1.0+ubuntu-1" is "1.0+ubuntu.1"): without this the
	// two would have different canonical forms and compare unequal.
	if l := v.Local(); strings.ContainsAny(l, "-_") {
		if v, err = pep440.Parse(v.Public() + "+" + localSeparators.Replace(l)); err != nil {
			return Version{}, fmt.Errorf("version %q: %w", s, err)
		}
	}
	return Version{raw: s, v: v}, nil
}

// String returns the version as it was written.
func (v Version) String() string { return v.raw }

// Canonical returns the canonical (normalised) form, e.g. "1.0rc1" for
// "1.0-RC1"; the form used in keys and sdist file names.
func (v Version) Canonical() string { return v.v.String() }

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than w.
func (v Version) Compare(w Version) int { return v.v.Compare(w.v) }

// IsPrerelease reports whether v is a pre- or development release.
func (v Version) IsPrerelease() bool { return v.v.IsPreRelease() }

// CompareVersions compares two version strings as PEP 440 versions; a
// string that does not parse sorts before every one that does, and two such
// strings compare as strings, so sorting never fails on odd input.
func CompareVersions(a, b string) int {
	va, ea := ParseVersion(a)
	vb, eb := ParseVersion(b)
	switch {
	case ea == nil && eb == nil:
		return va.Compare(vb)
	case ea != nil && eb == nil:
		return -1
	case ea == nil && eb != nil:
		return 1
	}
	return strings.Compare(a, b)
}

// Kind is the kind of a distribution file.
type Kind string

const (
	Sdist Kind = "sdist"
	Wheel Kind = "bdist_wheel"
)

// File is what a distribution file's name says about it.
type File struct {
	Name    string // project name as written in the file name
	Version string
	Kind    Kind
	Ext     string // ".tar.gz", ".zip", ".tar.bz2", ".tgz" or ".whl"
}

// sdistExts in order of preference: PEP 625 makes .tar.gz the standard.
var sdistExts = []string{".tar.gz", ".zip", ".tar.bz2", ".tgz"}

// SdistPreference ranks an sdist extension; lower is preferred.
func SdistPreference(ext string) int {
	for i, e := range sdistExts {
		if e == ext {
			return i
		}
	}
	return len(sdistExts)
}

// ErrUnknownFile reports a file name that is neither an sdist nor a wheel.
var ErrUnknownFile = errors.New("not an sdist or wheel file name")

// ParseFilename reads the project name, version and kind from a file name.
// Sdists are "{name}-{version}{ext}"; legacy sdists may have hyphens in the
// name, so the version is taken as the part after the last hyphen that
// parses as a PEP 440 version. Wheels follow the wheel file name rule.
func ParseFilename(filename string) (File, error) {
	if strings.ContainsAny(filename, "/\\") {
		return File{}, fmt.Errorf("%w: %q", ErrUnknownFile, filename)
	}
	if base, ok := strings.CutSuffix(filename, ".whl"); ok {
		parts := strings.Split(base, "-")
		if len(parts) != 5 && len(parts) != 6 {
			return File{}, fmt.Errorf("%w: %q", ErrUnknownFile, filename)
		}
		if _, err := ParseVersion(parts[1]); err != nil || !ValidName(parts[0]) {
			return File{}, fmt.Errorf("%w: %q", ErrUnknownFile, filename)
		}
		return File{Name: parts[0], Version: parts[1], Kind: Wheel, Ext: ".whl"}, nil
	}
	for _, ext := range sdistExts {
		base, ok := strings.CutSuffix(filename, ext)
		if !ok {
			continue
		}
		for i := len(base) - 1; i > 0; i-- {
			if base[i] != '-' {
				continue
			}
			name, ver := base[:i], base[i+1:]
			if _, err := ParseVersion(ver); err == nil && ValidName(name) {
				return File{Name: name, Version: ver, Kind: Sdist, Ext: ext}, nil
			}
		}
	}
	return File{}, fmt.Errorf("%w: %q", ErrUnknownFile, filename)
}

// SdistFilename returns the PEP 625 file name of a release's sdist.
func SdistFilename(name, version string) string {
	v := version
	if pv, err := ParseVersion(version); err == nil {
		v = pv.Canonical()
	}
	return strings.ReplaceAll(Normalize(name), "-", "_") + "-" + v + ".tar.gz"
}
