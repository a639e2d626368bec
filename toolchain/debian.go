package toolchain

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// apt is a private apt configuration for one Debian suite: its own sources
// list, lists, cache and (empty) dpkg status under the cache directory, so
// the host's apt setup is neither read for sources nor changed.
type apt struct {
	suite string
	root  string
}

const debianMirror = "http://deb.debian.org/debian"
const debianKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

func newApt(cacheDir, suite string) (*apt, error) {
	a := &apt{suite: suite, root: filepath.Join(cacheDir, "apt", suite)}
	for _, d := range []string{"etc/sources.list.d", "etc/preferences.d", "lists/partial", "cache/archives/partial", "debs"} {
		if err := os.MkdirAll(filepath.Join(a.root, d), 0o755); err != nil {
			return nil, err
		}
	}
	src := fmt.Sprintf("deb [signed-by=%s] %s %s main\n", debianKeyring, debianMirror, suite)
	if err := os.WriteFile(filepath.Join(a.root, "etc", "sources.list"), []byte(src), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(a.root, "status"), nil, 0o644); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *apt) opts() []string {
	return []string{
		"-o", "Dir::Etc::SourceList=" + filepath.Join(a.root, "etc", "sources.list"),
		"-o", "Dir::Etc::SourceParts=" + filepath.Join(a.root, "etc", "sources.list.d"),
		"-o", "Dir::Etc::Preferences=" + filepath.Join(a.root, "etc", "preferences"),
		"-o", "Dir::Etc::PreferencesParts=" + filepath.Join(a.root, "etc", "preferences.d"),
		"-o", "Dir::State::Lists=" + filepath.Join(a.root, "lists"),
		"-o", "Dir::State::Status=" + filepath.Join(a.root, "status"),
		"-o", "Dir::Cache=" + filepath.Join(a.root, "cache"),
		"-o", "APT::Architecture=amd64",
		"-o", "APT::Architectures=amd64",
		"-o", "Acquire::Languages=none",
		"-o", "APT::Sandbox::User=root",
	}
}

func (a *apt) run(ctx context.Context, dir, tool string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, tool, append(a.opts(), args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LANG=C", "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s (%s): %w: %s", tool, strings.Join(args, " "), a.suite, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func (a *apt) update(ctx context.Context) error {
	_, err := a.run(ctx, a.root, "apt-get", "-q", "update")
	return err
}

// debInfo is what apt-cache says of one binary package.
type debInfo struct {
	Package, Version, Arch string
	Depends                [][]string // alternatives: "name" or "name (op version)"
}

func (a *apt) show(ctx context.Context, pkg string) (debInfo, error) {
	out, err := a.run(ctx, a.root, "apt-cache", "show", "--no-all-versions", pkg)
	if err != nil {
		return debInfo{}, err
	}
	var d debInfo
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			continue
		}
		switch k {
		case "Package":
			d.Package = v
		case "Version":
			d.Version = v
		case "Architecture":
			d.Arch = v
		case "Depends", "Pre-Depends":
			for _, clause := range strings.Split(v, ",") {
				var alts []string
				for _, alt := range strings.Split(clause, "|") {
					alts = append(alts, strings.TrimSpace(alt))
				}
				d.Depends = append(d.Depends, alts)
			}
		}
	}
	if d.Package == "" {
		return d, fmt.Errorf("apt-cache show %s (%s): no such package", pkg, a.suite)
	}
	return d, nil
}

// closure returns root and the Python packages it depends on, root first
// then sorted. An alternative of a package or a Python version
// ("python3-tomli | python3 (>> 3.11)") needs the package only when the
// oldest interpreter served, minMinor, is not that version.
func (a *apt) closure(ctx context.Context, root, minMinor string) ([]debInfo, error) {
	seen := map[string]bool{root: true}
	queue := []string{root}
	var out []debInfo
	for len(queue) > 0 {
		pkg := queue[0]
		queue = queue[1:]
		d, err := a.show(ctx, pkg)
		if err != nil {
			return nil, err
		}
		if d.Arch != "all" {
			return nil, fmt.Errorf("%s (%s) is %s, not a pure-Python package", pkg, a.suite, d.Arch)
		}
		out = append(out, d)
		for _, alts := range d.Depends {
			if pythonSatisfies(alts, minMinor) {
				continue
			}
			for _, alt := range alts {
				name, _, _ := strings.Cut(alt, " ")
				if notPython[name] || !strings.HasPrefix(name, "python3-") {
					continue
				}
				if !seen[name] {
					seen[name] = true
					queue = append(queue, name)
				}
				break
			}
		}
	}
	sort.Slice(out[1:], func(i, j int) bool { return out[1+i].Package < out[1+j].Package })
	return out, nil
}

// download fetches pkg=version into the suite's debs folder (kept between
// builds) and returns its path.
func (a *apt) download(ctx context.Context, pkg, version string) (string, error) {
	dir := filepath.Join(a.root, "debs")
	want := pkg + "_" + strings.ReplaceAll(version, ":", "%3a") + "_all.deb"
	p := filepath.Join(dir, want)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if _, err := a.run(ctx, dir, "apt-get", "-q", "download", pkg+"="+version); err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("apt-get download %s=%s: %s not found after download", pkg, version, want)
	}
	return p, nil
}

// pythonSatisfies reports whether an alternative of a Depends clause is the
// interpreter itself at a version every served Python has: "python3 (>>
// 3.11)" or "python3-supported-min (>= 3.11)" with minMinor 3.12.
func pythonSatisfies(alts []string, minMinor string) bool {
	for _, alt := range alts {
		name, cons, ok := strings.Cut(alt, " ")
		if !ok || (name != "python3" && name != "python3-supported-min") {
			continue
		}
		f := strings.Fields(strings.Trim(cons, "()"))
		if len(f) != 2 {
			continue
		}
		c := compareMinor(minMinor, f[1])
		switch f[0] {
		case ">>":
			// "python3 (>> 3.11)" is 3.11.x too for Debian's versions
			// ("3.11.2-1" >> "3.11"): a minor above is certain, equal is not.
			if c > 0 {
				return true
			}
		case ">=":
			if c >= 0 {
				return true
			}
		}
	}
	return false
}

func compareMinor(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < 2; i++ {
		var x, y int
		if i < len(pa) {
			fmt.Sscan(pa[i], &x)
		}
		if i < len(pb) {
			fmt.Sscan(pb[i], &y)
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
