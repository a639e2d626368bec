package toolchain

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/dist"
)

// build makes the wheelhouse for in into dir (wheels/ and the manifest).
func build(ctx context.Context, opts Options, in inputs, key, dir string) (*Wheelhouse, error) {
	wheels := filepath.Join(dir, "wheels")
	if err := os.MkdirAll(wheels, 0o755); err != nil {
		return nil, err
	}
	w := &Wheelhouse{Key: key, Built: time.Now().UTC().Truncate(time.Second), Sets: map[string]Set{}}
	have := map[string]string{} // file -> sha256
	add := func(file, source string) error {
		sum, err := fileSHA256(filepath.Join(wheels, file))
		if err != nil {
			return err
		}
		if old, ok := have[file]; ok {
			if old != sum {
				return fmt.Errorf("two different %s (%s)", file, source)
			}
			return nil
		}
		have[file] = sum
		w.Wheels = append(w.Wheels, Wheel{File: file, SHA256: sum, Source: source})
		return nil
	}

	apts := map[string]*apt{}
	repacked := map[string]string{} // suite/package -> wheel file
	// debWheels returns the wheels of root and its Python dependencies.
	debWheels := func(root debRoot, minMinor string, ownSetuptools bool) ([]string, error) {
		a := apts[root.Suite]
		if a == nil {
			var err error
			if a, err = newApt(opts.CacheDir, root.Suite); err != nil {
				return nil, err
			}
			opts.Logger.Info("toolchain: apt-get update (private configuration)", "suite", root.Suite)
			if err := a.update(ctx); err != nil {
				return nil, err
			}
			apts[root.Suite] = a
		}
		var pkgs []debInfo
		if root.Dist != "" {
			d, err := a.show(ctx, root.Package)
			if err != nil {
				return nil, err
			}
			pkgs = []debInfo{d}
		} else {
			var err error
			if pkgs, err = a.closure(ctx, root.Package, minMinor); err != nil {
				return nil, err
			}
		}
		if ownSetuptools {
			// The interpreter's own setuptools is in the environment:
			// Debian's would shadow it.
			pkgs = slices.DeleteFunc(pkgs, func(d debInfo) bool { return d.Package == "python3-setuptools" })
		}
		if root.Version != "" && pkgs[0].Version != root.Version {
			return nil, fmt.Errorf("%s in %s is %s, the recipe wants %s", root.Package, root.Suite, pkgs[0].Version, root.Version)
		}
		var files []string
		for _, d := range pkgs {
			id := root.Suite + "/" + d.Package
			if root.Dist != "" {
				id += "/" + root.Dist
			}
			if f, ok := repacked[id]; ok {
				files = append(files, f)
				continue
			}
			deb, err := a.download(ctx, d.Package, d.Version)
			if err != nil {
				return nil, err
			}
			content, err := debFiles(ctx, deb)
			if err != nil {
				return nil, err
			}
			source := fmt.Sprintf("debian %s (%s) %s %s", root.Suite, suites[root.Suite], d.Package, d.Version)
			debSum, _ := fileSHA256(deb)
			source += " deb-sha256 " + debSum
			var extra map[string][]byte
			if m := mergeInto[d.Package]; m != "" {
				md, err := a.show(ctx, m)
				if err != nil {
					return nil, err
				}
				mdeb, err := a.download(ctx, md.Package, md.Version)
				if err != nil {
					return nil, err
				}
				if extra, err = debFiles(ctx, mdeb); err != nil {
					return nil, err
				}
				msum, _ := fileSHA256(mdeb)
				source += fmt.Sprintf(" + %s %s deb-sha256 %s", md.Package, md.Version, msum)
			}
			if len(patches[d.Package]) > 0 {
				source += " (install_layout patch undone)"
			}
			tag := "py3-none-any"
			if universal[id] {
				tag = "py2.py3-none-any"
			}
			file, err := repack(d.Package, root.Dist, content, extra, tag, wheels)
			if err != nil {
				return nil, err
			}
			if err := add(file, source); err != nil {
				return nil, err
			}
			repacked[id] = file
			files = append(files, file)
		}
		return files, nil
	}

	// Each root (a Debian package whose closure is repacked) is a part of
	// the build's progress; how many is known before any is fetched.
	total := 0
	for _, r := range recipes {
		if slices.ContainsFunc(r.Minors, func(m string) bool { return in.pythons[m] }) {
			total += len(r.Build) + len(r.Test) + len(r.Frontend517) + len(r.Plugins) + len(r.Backends)
		}
	}
	done, began := 0, time.Now()
	tell := func(root debRoot) {
		done++
		if opts.Progress != nil {
			opts.Progress(Progress{Done: done, Total: total, Elapsed: time.Since(began), Part: root.Suite + " " + root.Package})
		}
	}
	if opts.Progress != nil {
		opts.Progress(Progress{Total: total})
	}

	for _, r := range recipes {
		var minors []string
		for _, m := range r.Minors {
			if in.pythons[m] {
				minors = append(minors, m)
			}
		}
		if len(minors) == 0 {
			continue
		}
		// wheelsOf gathers the wheels of several roots, in order.
		wheelsOf := func(roots []debRoot) ([]string, error) {
			var out []string
			for _, root := range roots {
				fs, err := debWheels(root, r.Minors[0], r.EnsurepipSetuptools)
				if err != nil {
					return nil, err
				}
				out = append(out, fs...)
				tell(root)
			}
			return out, nil
		}
		build, err := wheelsOf(r.Build)
		if err != nil {
			return nil, err
		}
		test, err := wheelsOf(r.Test)
		if err != nil {
			return nil, err
		}
		front, err := wheelsOf(r.Frontend517)
		if err != nil {
			return nil, err
		}
		plugins, err := wheelsOf(r.Plugins)
		if err != nil {
			return nil, err
		}
		backs := map[string][]string{}
		for name, root := range r.Backends {
			fs, err := debWheels(root, r.Minors[0], r.EnsurepipSetuptools)
			if err != nil {
				return nil, err
			}
			backs[name] = fs
			tell(root)
		}
		for _, minor := range minors {
			s := Set{Minor: minor, Runner: r.Runner, Frontend: r.Frontend, Test: dedupe(test), Frontend517: dedupe(front)}
			// A plugin's dependencies that the test environment already
			// has (pytest and its own) are not repeated.
			for _, p := range dedupe(plugins) {
				if !slices.Contains(s.Test, p) {
					s.Plugins = append(s.Plugins, p)
				}
			}
			if len(backs) > 0 {
				s.Backends = backs
			}
			own := map[string]ensurepipIn{} // newest ensurepip wheel per distribution
			for _, e := range in.Ensurepip {
				if e.Minor != minor {
					continue
				}
				d := wheelDist(e.File)
				if old, ok := own[d]; !ok || compareWheelVersions(e.File, old.File) > 0 {
					own[d] = e
				}
			}
			pip, ok := own["pip"]
			if !ok {
				return nil, fmt.Errorf("Python %s has no ensurepip pip wheel", minor)
			}
			var ownFiles []string
			for _, d := range []string{"pip", "setuptools"} {
				e, ok := own[d]
				if !ok || (d == "setuptools" && !r.EnsurepipSetuptools) {
					continue
				}
				if err := copyFile(e.path, filepath.Join(wheels, e.File)); err != nil {
					return nil, err
				}
				if err := add(e.File, fmt.Sprintf("ensurepip of Python %s (%s)", minor, e.path)); err != nil {
					return nil, err
				}
				ownFiles = append(ownFiles, e.File)
			}
			if r.EnsurepipSetuptools && len(ownFiles) < 2 {
				return nil, fmt.Errorf("Python %s has no ensurepip setuptools wheel", minor)
			}
			s.Pip = pip.File
			s.Build = dedupe(append(ownFiles, build...))
			w.Sets[minor] = s
		}
	}
	sort.Slice(w.Wheels, func(i, j int) bool { return w.Wheels[i].File < w.Wheels[j].File })
	b, err := json.MarshalIndent(w, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, manifestName), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	// Jobs run as another user: everything readable, nothing writable.
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			mode := os.FileMode(0o444)
			if fi.IsDir() {
				mode = 0o755
			}
			os.Chmod(p, mode)
		}
		return nil
	})
	return w, nil
}

// compareWheelVersions compares the versions of two wheel files of one
// distribution by PEP 440 ("pip-23.0.1-..." > "pip-22.0.4-...").
func compareWheelVersions(a, b string) int {
	return dist.CompareVersions(strings.Split(a, "-")[1], strings.Split(b, "-")[1])
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// dedupe keeps the first of each file name, in order (the lists are short).
func dedupe(files []string) []string {
	var out []string
	for _, f := range files {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}
