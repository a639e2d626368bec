// Package diff compares two artifacts of one kind (two wheels, two sdists,
// two bdists) the way diffoscope does, without running anything of them:
// it first normalises what legitimately differs (the interpreter's tags in
// member paths, archive timestamps, modes and owners, byte code headers)
// and says what it normalised, then reports what remains: members missing,
// added, or changed in content; the metadata files (PKG-INFO, METADATA,
// WHEEL, entry_points.txt, top_level.txt) field by field; a unified diff of
// each changed text member up to 64 KiB, a line of hashes for larger or
// binary ones.
//
// The artifacts were made by package code: they are read with the caps of
// package archive, and only small members' contents are kept.
package diff

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/aymanbagabas/go-udiff"

	"github.com/pysmoke/pysmoke/archive"
)

// Side is one artifact to compare.
type Side struct {
	// Label names it in the report ("3.11", "1.0 on 3.12").
	Label string
	// Path is the file on the host; its name says its kind (.whl,
	// .tar.gz, .zip ...).
	Path string
	// Name is the file's own name when Path's base is not it (a file of a
	// content-addressed store); "" takes Path's base.
	Name string
	// Python is the full version of the interpreter that built it
	// ("3.11.7"), whose tags in member paths are normalised; "" for none.
	Python string
	// Project and Version name the release, whose "name-version" folder
	// in member paths is normalised; "" for none.
	Project, Version string
	// Tools names the toolchain that built it ("setuptools 65.5.0, wheel
	// 0.38.4"), which labels the differences that come from it; "" when
	// not known (a wheel's own Generator line is used).
	Tools string
	// Converted is, for a wheel or a bdist built on Python 2, the tar.gz
	// of its modules as 2to3 converts them (the 2to3 step's tree, from the
	// same run), by path; "" for none. Against a Python 3 side, a module that differs
	// only as 2to3 converts it is set aside: what setuptools' use_2to3
	// does at a Python 3 build, or a project keeping two copies, is not a
	// difference of the release.
	Converted string
}

// MaxText is the largest member a unified diff is shown for.
const MaxText = 64 << 10

// maxKept caps the bytes of member contents kept per artifact.
const maxKept = 32 << 20

// Report is what differs between two artifacts.
type Report struct {
	A, B string // the sides' labels
	// Normalised says, for each normalisation that changed something,
	// what it was ("python tags in member paths: 3.11 as 3.12").
	Normalised []string
	Missing    []string // member paths in A, not in B (normalised)
	Added      []string // member paths in B, not in A
	Changed    []Change
	Metadata   []Field
	// Toolchain names the tools that made each side, where the
	// artifacts say ("bdist_wheel (0.38.4)" against "(0.46.1)"), when
	// they differ: the fields marked Toolchain follow from it.
	Toolchain string
}

// Change is a member present on both sides with different contents.
type Change struct {
	Path             string
	SizeA, SizeB     int64
	SHA256A, SHA256B string
	// Unified is a unified diff of the member's text (both sides UTF-8,
	// at most MaxText bytes); "" with Why saying why there is none.
	Unified string
	Why     string
}

// Field is a metadata field whose values differ.
type Field struct {
	File string // the metadata file's normalised path
	Name string // the field ("Requires-Dist", "[console_scripts] app")
	A, B []string
	// Toolchain: the difference comes from the tools that built each
	// side (Metadata-Version, the WHEEL's Generator), not the release.
	Toolchain bool
}

// Empty reports whether nothing differs.
func (r Report) Empty() bool {
	return len(r.Missing) == 0 && len(r.Added) == 0 && len(r.Changed) == 0 && len(r.Metadata) == 0
}

// side is one artifact read: its members by normalised path, and the
// kept contents.
type side struct {
	Side
	members map[string]archive.Member
	content map[string][]byte // by normalised path
}

// Archives compares two archives.
func Archives(a, b Side) (Report, error) {
	r := Report{A: a.Label, B: b.Label}
	norm := newNormaliser(a, b)
	sa, err := read(a, norm.forA)
	if err != nil {
		return r, err
	}
	sb, err := read(b, norm.forB)
	if err != nil {
		return r, err
	}
	crossPython := pythonMinor(a.Python) != pythonMinor(b.Python)
	// On the axis of 2 against 3, the Python 2 side's modules as 2to3
	// converts them.
	var converted map[string][]byte
	convertedSide := ""
	switch {
	case strings.HasPrefix(a.Python, "2.") && strings.HasPrefix(b.Python, "3.") && a.Converted != "":
		converted, convertedSide = convertedModules(a.Converted), "a"
	case strings.HasPrefix(b.Python, "2.") && strings.HasPrefix(a.Python, "3.") && b.Converted != "":
		converted, convertedSide = convertedModules(b.Converted), "b"
	}
	var nConverted int
	var pycByPresence, pycHeaders, record bool
	for _, p := range sortedKeys(sa.members) {
		ma := sa.members[p]
		mb, ok := sb.members[p]
		if !ok {
			if !isDir(ma) {
				r.Missing = append(r.Missing, p)
			}
			continue
		}
		if ma.SHA256 == mb.SHA256 || isDir(ma) {
			continue
		}
		switch {
		case metadataKind(p) != "":
			r.Metadata = append(r.Metadata, compareMetadata(p, sa.content[p], sb.content[p], norm)...)
			continue
		case strings.HasSuffix(p, ".dist-info/RECORD"):
			// It lists every member's hash: it follows the others.
			record = true
			continue
		case strings.HasSuffix(p, ".pyc") && crossPython:
			pycByPresence = true
			continue
		case strings.HasSuffix(p, ".pyc"):
			if samePyc(sa.content[p], sb.content[p], a.Python) {
				pycHeaders = true
				continue
			}
		case strings.HasSuffix(p, ".py") && converted[strings.TrimPrefix(p, sitePackages)] != nil:
			other := sb.content[p]
			if convertedSide == "b" {
				other = sa.content[p]
			}
			if bytes.Equal(converted[strings.TrimPrefix(p, sitePackages)], other) {
				nConverted++
				continue
			}
		}
		r.Changed = append(r.Changed, change(p, ma, mb, sa.content[p], sb.content[p]))
	}
	for _, p := range sortedKeys(sb.members) {
		if _, ok := sa.members[p]; !ok && !isDir(sb.members[p]) {
			r.Added = append(r.Added, p)
		}
	}
	// After the metadata: its values are normalised too.
	r.Normalised = append(norm.applied(), "member timestamps, modes and owners are not compared; folders are compared through the files in them")
	if pycByPresence {
		r.Normalised = append(r.Normalised, "byte code (.pyc) compared by presence only: each Python writes its own")
	}
	if pycHeaders {
		r.Normalised = append(r.Normalised, "byte code headers (the source's timestamp and size)")
	}
	if record {
		r.Normalised = append(r.Normalised, "the wheel's RECORD (it lists every member's hash) is not compared")
	}
	if nConverted > 0 {
		what := "modules"
		if nConverted == 1 {
			what = "module"
		}
		r.Normalised = append(r.Normalised, fmt.Sprintf("2to3's conversions: %d Python 2 %s compared as 2to3 converts them", nConverted, what))
	}
	r.Toolchain = toolchainOf(sa, sb, r.Metadata)
	return r, nil
}

// convertedModules reads the .py members of a 2to3 tree (nil when it
// cannot be read: nothing is then set aside). Its paths are a wheel's
// modules' own, which no normalisation rewrites.
func convertedModules(path string) map[string][]byte {
	// The tree is a tar.gz whatever its file is called (a store names
	// files by their hash).
	tree, err := read(Side{Label: "2to3 tree", Path: path, Name: "2to3-tree.tar.gz"}, func(p string) string { return p })
	if err != nil {
		return nil
	}
	out := map[string][]byte{}
	for p, b := range tree.content {
		if strings.HasSuffix(p, ".py") {
			out[p] = b
		}
	}
	return out
}

// read lists an artifact's members under normalised paths, keeping the
// contents of small members.
func read(s Side, norm func(string) string) (*side, error) {
	f, err := os.Open(s.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	name := s.Name
	if name == "" {
		name = path.Base(s.Path)
	}
	var total int64
	keep := func(p string, size int64) bool {
		if size > MaxText && metadataKind(p) == "" {
			return false
		}
		if total+size > maxKept {
			return false
		}
		total += size
		return true
	}
	ms, kept, err := archive.MembersAndContents(f, name, fi.Size(), keep)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Label, err)
	}
	out := &side{Side: s, members: map[string]archive.Member{}, content: map[string][]byte{}}
	for _, m := range ms {
		p := norm(strings.TrimPrefix(m.Path, "./"))
		if _, dup := out.members[p]; dup {
			continue // two members under one normalised path: the first
		}
		out.members[p] = m
		if b, ok := kept[m.Path]; ok {
			out.content[p] = b
		}
	}
	return out, nil
}

func change(p string, ma, mb archive.Member, a, b []byte) Change {
	c := Change{Path: p, SizeA: ma.Size, SizeB: mb.Size, SHA256A: ma.SHA256, SHA256B: mb.SHA256}
	switch {
	case a == nil || b == nil || ma.Size > MaxText || mb.Size > MaxText:
		c.Why = fmt.Sprintf("larger than %d KiB", MaxText>>10)
	case !isText(a) || !isText(b):
		c.Why = "binary"
	default:
		c.Unified = udiff.Unified("a/"+p, "b/"+p, string(a), string(b))
	}
	return c
}

func isDir(m archive.Member) bool { return strings.HasPrefix(m.Mode, "d") }

func isText(b []byte) bool {
	return utf8.Valid(b) && !bytes.ContainsRune(b, 0)
}

// samePyc reports whether two byte code files of one Python differ only
// in their headers (the source's timestamp and size).
func samePyc(a, b []byte, python string) bool {
	n := 16 // 3.7 and later: magic, flags, mtime, size (or hash)
	switch m := pythonMinor(python); {
	case strings.HasPrefix(m, "2."):
		n = 8
	case m == "3.3" || m == "3.4" || m == "3.5" || m == "3.6":
		n = 12
	}
	if a == nil || b == nil || len(a) < n || len(b) < n {
		return false
	}
	return bytes.Equal(a[:4], b[:4]) && bytes.Equal(a[n:], b[n:])
}

// pythonMinor is "3.11" of "3.11.7".
func pythonMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// toolchainOf names the tools that made each side when they differ, and
// marks the fields that follow from them: those that only the tools
// write (the metadata's version, the wheel's generator, the fields newer
// tools add) and the placeholders older ones wrote for what a release
// left out ("UNKNOWN").
func toolchainOf(a, b *side, fields []Field) string {
	ta, tb := a.Tools, b.Tools
	if ta == "" || tb == "" {
		ta, tb = generator(a), generator(b)
	}
	if ta == tb {
		return ""
	}
	for i := range fields {
		fields[i].Toolchain = toolField[fields[i].Name] || placeholder(fields[i].A, fields[i].B)
	}
	return fmt.Sprintf("%s: %s; %s: %s", a.Label, ta, b.Label, tb)
}

// toolField are the metadata fields only the building tools write.
var toolField = map[string]bool{"Metadata-Version": true, "Generator": true, "Dynamic": true, "License-File": true}

// placeholder: one side has no value, the other only "UNKNOWN" (setuptools
// before 57 wrote it for an unset Home-page, Author, License, Platform).
func placeholder(a, b []string) bool {
	unknown := func(vs []string) bool {
		return len(vs) > 0 && !slices.ContainsFunc(vs, func(v string) bool { return v != "UNKNOWN" })
	}
	return (len(a) == 0 && unknown(b)) || (len(b) == 0 && unknown(a))
}

// generator is what the WHEEL file says built the artifact, else "".
func generator(s *side) string {
	for p, b := range s.content {
		if strings.HasSuffix(p, ".dist-info/WHEEL") {
			for _, f := range headerFields(b) {
				if f.name == "Generator" {
					return f.value
				}
			}
		}
	}
	return "unknown tools"
}

// String is the report as text: what pysmoke run --diff prints.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s -> %s", r.A, r.B)
	if r.Empty() {
		b.WriteString(": no difference\n")
	} else {
		b.WriteString("\n")
	}
	for _, n := range r.Normalised {
		fmt.Fprintf(&b, "  normalised: %s\n", n)
	}
	if r.Toolchain != "" {
		fmt.Fprintf(&b, "  toolchain: %s\n", r.Toolchain)
	}
	for _, p := range r.Missing {
		fmt.Fprintf(&b, "  - %s\n", p)
	}
	for _, p := range r.Added {
		fmt.Fprintf(&b, "  + %s\n", p)
	}
	for _, f := range r.Metadata {
		tag := ""
		if f.Toolchain {
			tag = " (toolchain)"
		}
		fmt.Fprintf(&b, "  %s %s%s: %s -> %s\n", f.File, f.Name, tag, showValues(f.A), showValues(f.B))
	}
	for _, c := range r.Changed {
		if c.Unified != "" {
			fmt.Fprintf(&b, "  ~ %s\n", c.Path)
			for _, line := range strings.Split(strings.TrimRight(c.Unified, "\n"), "\n") {
				fmt.Fprintf(&b, "    %s\n", line)
			}
			continue
		}
		fmt.Fprintf(&b, "  ~ %s (%s): %d bytes sha256 %.12s -> %d bytes sha256 %.12s\n", c.Path, c.Why, c.SizeA, c.SHA256A, c.SizeB, c.SHA256B)
	}
	return b.String()
}

func showValues(vs []string) string {
	if len(vs) == 0 {
		return "(none)"
	}
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
