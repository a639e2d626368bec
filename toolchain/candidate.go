package toolchain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/dist"
)

// Candidate returns a wheelhouse that is base with some of its wheels
// replaced: each given wheel file takes the place of the base's wheel of
// the same project (setuptools, wheel, pip ...) in every set whose Python
// the wheel admits (its tags and its Requires-Python). This is the
// candidate side of an experiment: "the toolchain, but with setuptools
// 58.1.0". A wheel that replaces nothing anywhere is an error, as is one
// that is not a wheel.
//
// The wheelhouse is made once under cacheDir, in a folder named by the
// hash of the base's key and the wheels' contents, and reused; the base
// wheels are linked (or copied, across filesystems), never changed.
func Candidate(base *Wheelhouse, wheels []string, cacheDir string) (*Wheelhouse, error) {
	if base == nil {
		return nil, errors.New("candidate toolchain: no base toolchain")
	}
	if len(wheels) == 0 {
		return nil, errors.New("candidate toolchain: no wheel given")
	}
	type given struct {
		path, file, dist, sum string
		tags                  []dist.Tag
		requiresPython        string
	}
	var in []given
	h := sha256.New()
	fmt.Fprintf(h, "candidate of %s\n", base.Key)
	for _, p := range wheels {
		file := filepath.Base(p)
		tags, err := dist.WheelTags(file)
		if err != nil {
			return nil, fmt.Errorf("candidate toolchain: %s: not a wheel file name", p)
		}
		sum, err := fileSHA256(p)
		if err != nil {
			return nil, fmt.Errorf("candidate toolchain: %w", err)
		}
		raw, err := dist.WheelMetadata(p)
		if err != nil {
			return nil, fmt.Errorf("candidate toolchain: %w", err)
		}
		md, err := dist.ParseMetadata(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("candidate toolchain: %s: %w", file, err)
		}
		if !strings.EqualFold(dist.Normalize(md.Name), dist.Normalize(wheelDist(file))) {
			return nil, fmt.Errorf("candidate toolchain: %s: its metadata names %q", file, md.Name)
		}
		in = append(in, given{path: p, file: file, dist: dist.Normalize(wheelDist(file)), sum: sum, tags: tags, requiresPython: md.RequiresPython})
		fmt.Fprintf(h, "%s %s\n", file, sum)
	}
	key := hex.EncodeToString(h.Sum(nil))
	dir := filepath.Join(cacheDir, "candidate-"+key[:16])
	if w, err := Open(dir); err == nil {
		return w, nil
	}

	w := &Wheelhouse{Key: key, Built: time.Now().UTC(), Sets: map[string]Set{}}
	replaced := map[string]bool{}
	for minor, s := range base.Sets {
		sub := map[string]string{} // base file -> candidate file
		for _, g := range in {
			if !admits(g.tags, g.requiresPython, minor) {
				continue
			}
			for _, f := range s.Files() {
				if dist.Normalize(wheelDist(f)) == g.dist {
					sub[f] = g.file
					replaced[g.file] = true
				}
			}
		}
		swap := func(files []string) []string {
			out := make([]string, len(files))
			for i, f := range files {
				out[i] = f
				if r, ok := sub[f]; ok {
					out[i] = r
				}
			}
			return out
		}
		s.Build, s.Test, s.Frontend517, s.Plugins = swap(s.Build), swap(s.Test), swap(s.Frontend517), swap(s.Plugins)
		if r, ok := sub[s.Pip]; ok {
			s.Pip = r
		}
		if s.Backends != nil {
			bs := map[string][]string{}
			for label, fs := range s.Backends {
				bs[label] = swap(fs)
			}
			s.Backends = bs
		}
		w.Sets[minor] = s
	}
	for _, g := range in {
		if !replaced[g.file] {
			return nil, fmt.Errorf("candidate toolchain: %s replaces no wheel of the toolchain on any of its Pythons (it has no %s wheel that %s could take the place of)",
				g.file, g.dist, g.file)
		}
	}

	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(cacheDir, "building-candidate-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	wheelsDir := filepath.Join(tmp, "wheels")
	if err := os.Mkdir(wheelsDir, 0o755); err != nil {
		return nil, err
	}
	for _, wh := range base.Wheels {
		if err := linkOrCopy(filepath.Join(base.Dir, wh.File), filepath.Join(wheelsDir, wh.File)); err != nil {
			return nil, fmt.Errorf("candidate toolchain: %w", err)
		}
		w.Wheels = append(w.Wheels, wh)
	}
	for _, g := range in {
		if _, err := os.Lstat(filepath.Join(wheelsDir, g.file)); err == nil {
			// The same file name as a base wheel: the base's contents would
			// be silently shadowed, or shadow the candidate.
			if sum, _ := fileSHA256(filepath.Join(wheelsDir, g.file)); sum != g.sum {
				return nil, fmt.Errorf("candidate toolchain: %s has the name of a toolchain wheel with other contents", g.file)
			}
			continue
		}
		if err := linkOrCopy(g.path, filepath.Join(wheelsDir, g.file)); err != nil {
			return nil, fmt.Errorf("candidate toolchain: %w", err)
		}
		abs, _ := filepath.Abs(g.path)
		w.Wheels = append(w.Wheels, Wheel{File: g.file, SHA256: g.sum, Source: "candidate " + abs})
	}
	sort.Slice(w.Wheels, func(i, j int) bool { return w.Wheels[i].File < w.Wheels[j].File })
	b, err := json.MarshalIndent(w, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, manifestName), b, 0o644); err != nil {
		return nil, err
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		if w2, err2 := Open(dir); err2 == nil { // made by another process meanwhile
			return w2, nil
		}
		return nil, err
	}
	w.Dir = filepath.Join(dir, "wheels")
	return w, nil
}

// Files lists every wheel the set names (a file may be named twice).
func (s Set) Files() []string {
	files := append(append(append(append([]string{s.Pip}, s.Build...), s.Test...), s.Frontend517...), s.Plugins...)
	for _, fs := range s.Backends {
		files = append(files, fs...)
	}
	return files
}

// admits reports whether a pure wheel with these tags and Requires-Python
// installs on Python minor ("3.8"): a py3 wheel does not on 2.7, nor a
// cp39 one on 3.8.
func admits(tags []dist.Tag, requiresPython, minor string) bool {
	major, _, _ := strings.Cut(minor, ".")
	ok := false
	for _, t := range tags {
		py := t.Python
		switch {
		case py == "py"+major, py == "py"+strings.ReplaceAll(minor, ".", ""),
			py == "cp"+strings.ReplaceAll(minor, ".", ""):
			ok = true
		}
	}
	if !ok {
		return false
	}
	if requiresPython == "" {
		return true
	}
	sat, err := dist.PythonSatisfies(requiresPython, minor+".0")
	return err == nil && sat
}

func linkOrCopy(from, to string) error {
	if err := os.Link(from, to); err == nil {
		return nil
	}
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}
