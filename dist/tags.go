package dist

import (
	"fmt"
	"strings"
)

// Tag is one wheel compatibility tag (PEP 425).
type Tag struct {
	Python, ABI, Platform string
}

func (t Tag) String() string { return t.Python + "-" + t.ABI + "-" + t.Platform }

// WheelTags expands a wheel file name's compressed tag set
// ("py2.py3-none-any" is two tags).
func WheelTags(filename string) ([]Tag, error) {
	base, ok := strings.CutSuffix(filename, ".whl")
	parts := strings.Split(base, "-")
	if !ok || (len(parts) != 5 && len(parts) != 6) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownFile, filename)
	}
	n := len(parts)
	var tags []Tag
	for _, py := range strings.Split(parts[n-3], ".") {
		for _, abi := range strings.Split(parts[n-2], ".") {
			for _, plat := range strings.Split(parts[n-1], ".") {
				tags = append(tags, Tag{py, abi, plat})
			}
		}
	}
	return tags, nil
}

// CPythonTags lists, most preferred first, the tags a CPython of the given
// version accepts on x86-64 Linux with the given glibc minor version
// (Debian 12: 36), as pip's tag logic orders them.
func CPythonTags(major, minor, glibcMinor int, debug bool) []Tag {
	cp := fmt.Sprintf("cp%d%d", major, minor)
	abi := cp
	if major == 3 && minor < 8 {
		abi += "m" // pymalloc builds before 3.8
	}
	if major == 2 {
		abi += "mu" // 2.7's default build: pymalloc, UCS-4
	}
	if debug {
		abi += "d"
	}
	var plats []string
	for g := glibcMinor; g >= 5; g-- {
		plats = append(plats, fmt.Sprintf("manylinux_2_%d_x86_64", g))
		switch g {
		case 17:
			plats = append(plats, "manylinux2014_x86_64")
		case 12:
			plats = append(plats, "manylinux2010_x86_64")
		case 5:
			plats = append(plats, "manylinux1_x86_64")
		}
	}
	plats = append(plats, "linux_x86_64")

	var tags []Tag
	for _, p := range plats {
		tags = append(tags, Tag{cp, abi, p})
	}
	if major == 3 && minor >= 2 {
		for _, p := range plats {
			tags = append(tags, Tag{cp, "abi3", p})
		}
	}
	for _, p := range plats {
		tags = append(tags, Tag{cp, "none", p})
	}
	// abi3 wheels built for older 3.x minors work on newer ones.
	if major == 3 {
		for m := minor - 1; m >= 2; m-- {
			for _, p := range plats {
				tags = append(tags, Tag{fmt.Sprintf("cp3%d", m), "abi3", p})
			}
		}
	}
	// Pure-Python and generic tags: pyXY, pyX, then older minors.
	generic := []string{fmt.Sprintf("py%d%d", major, minor), fmt.Sprintf("py%d", major)}
	for m := minor - 1; m >= 0; m-- {
		generic = append(generic, fmt.Sprintf("py%d%d", major, m))
	}
	for _, g := range generic[:2] {
		for _, p := range plats {
			tags = append(tags, Tag{g, "none", p})
		}
	}
	tags = append(tags, Tag{cp, "none", "any"})
	for _, g := range generic {
		tags = append(tags, Tag{g, "none", "any"})
	}
	return tags
}

// TagRank returns the best (lowest) index in supported of any of the
// wheel's tags, or -1 when the wheel does not fit.
func TagRank(wheelTags, supported []Tag) int {
	best := -1
	for _, wt := range wheelTags {
		for i, st := range supported {
			if wt == st && (best < 0 || i < best) {
				best = i
				break
			}
		}
	}
	return best
}
