package interpreter_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pysmoke/pysmoke/interpreter"
)

// pyenvRoot returns the machine's pyenv root, or skips (fails under CI)
// when it holds no versions.
func pyenvRoot(t *testing.T) string {
	t.Helper()
	root := os.Getenv("PYENV_ROOT")
	if root == "" {
		home, _ := os.UserHomeDir()
		root = filepath.Join(home, ".pyenv")
	}
	if dirs, _ := filepath.Glob(filepath.Join(root, "versions", "*")); len(dirs) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("no pyenv versions under %s in CI", root)
		}
		t.Skipf("no pyenv versions under %s", root)
	}
	return root
}

// pyenvVersion returns the pyenv tree of a version, skipping without it.
func pyenvVersion(t *testing.T, version string) string {
	t.Helper()
	dir := filepath.Join(pyenvRoot(t), "versions", version)
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Python %s missing in CI: %v", version, err)
		}
		t.Skipf("Python %s not installed: %v", version, err)
	}
	return dir
}

func versionKey(v string) []int {
	var k []int
	for _, p := range strings.Split(v, ".") {
		n, _ := strconv.Atoi(p)
		k = append(k, n)
	}
	return k
}

func minorOf(v string) string {
	p := strings.Split(v, ".")
	return p[0] + "." + p[1]
}

func TestDiscoverPyenv(t *testing.T) {
	root := pyenvRoot(t)
	dirs, _ := filepath.Glob(filepath.Join(root, "versions", "*"))
	// What pyenv holds, by its folder names: the newest patch of each minor.
	newest := map[string]string{}
	for _, d := range dirs {
		v := filepath.Base(d)
		if len(strings.Split(v, ".")) != 3 {
			continue // not a plain CPython version; Discover may still use it
		}
		if cur, ok := newest[minorOf(v)]; !ok || slices.Compare(versionKey(v), versionKey(cur)) > 0 {
			newest[minorOf(v)] = v
		}
	}
	var want []string
	for _, v := range newest {
		want = append(want, v)
	}
	sort.Slice(want, func(i, j int) bool { return slices.Compare(versionKey(want[i]), versionKey(want[j])) < 0 })

	ins, problems := interpreter.Discover(context.Background(), interpreter.DiscoverOptions{PyenvRoot: root})
	for _, p := range problems {
		t.Errorf("problem: %v", p)
	}
	var got []string
	for _, in := range ins {
		got = append(got, in.Version)
		prefix, _ := filepath.EvalSymlinks(filepath.Join(root, "versions", in.Version))
		if in.Prefix != prefix {
			t.Errorf("%s: prefix %s, want %s", in.Version, in.Prefix, prefix)
		}
		if !strings.HasPrefix(in.Path, prefix+"/bin/python") {
			t.Errorf("%s: path %s is not under %s/bin", in.Version, in.Path, prefix)
		}
		if in.Minor != minorOf(in.Version) || in.Implementation != "CPython" {
			t.Errorf("%s: minor %q, implementation %q", in.Version, in.Minor, in.Implementation)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("Discover found %q; want %q (one per minor, newest patch, oldest first)", got, want)
	}
}

func TestDiscoverDedupsSymlinks(t *testing.T) {
	v := pyenvVersion(t, "3.11.7")
	root := pyenvRoot(t)
	tmp := t.TempDir()
	direct := filepath.Join(tmp, "python-direct")
	chain := filepath.Join(tmp, "python-chain")
	if err := os.Symlink(filepath.Join(v, "bin", "python3.11"), direct); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(direct, chain); err != nil {
		t.Fatal(err)
	}
	// AllPatches, so that keeping the newest per minor cannot hide a
	// duplicate.
	base, _ := interpreter.Discover(context.Background(), interpreter.DiscoverOptions{PyenvRoot: root, AllPatches: true})
	ins, problems := interpreter.Discover(context.Background(), interpreter.DiscoverOptions{PyenvRoot: root, AllPatches: true, Paths: []string{direct, chain, filepath.Join(v, "bin", "python3")}})
	for _, p := range problems {
		t.Errorf("problem: %v", p)
	}
	if len(ins) != len(base) {
		t.Errorf("with symlinks to 3.11.7 in Paths: %d interpreters, want %d", len(ins), len(base))
	}
	seen := map[string]bool{}
	for _, in := range ins {
		if seen[in.Path] {
			t.Errorf("%s listed twice", in.Path)
		}
		seen[in.Path] = true
	}
}

// TestDiscoverPathDirs: on the search path, only python2.N and python3.N
// are taken; a wrapper script is replaced by the executable it runs, and
// counted once with a symlink to the same one; pyenv's shims are skipped.
func TestDiscoverPathDirs(t *testing.T) {
	v311, v310 := pyenvVersion(t, "3.11.7"), pyenvVersion(t, "3.10.13")
	real311, err := filepath.EvalSymlinks(filepath.Join(v311, "bin", "python3.11"))
	if err != nil {
		t.Fatal(err)
	}
	real310, err := filepath.EvalSymlinks(filepath.Join(v310, "bin", "python3.10"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir() // a pyenv root with no versions, only shims
	linked, wrapped := t.TempDir(), t.TempDir()
	write := func(path, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Anything probed among these would be a problem: the names are not
	// taken, and the shims folder is not searched.
	broken := "#!/bin/sh\necho broken >&2\nexit 1\n"
	write(filepath.Join(linked, "python3"), broken)
	write(filepath.Join(linked, "python3.11-config"), broken)
	write(filepath.Join(linked, "python3.x"), broken)
	write(filepath.Join(root, "shims", "python3.9"), broken)
	if err := os.Symlink(real311, filepath.Join(linked, "python3.11")); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(wrapped, "python3.11"), "#!/bin/sh\nexec "+real311+" \"$@\"\n")
	write(filepath.Join(wrapped, "python3.10"), "#!/bin/sh\nexec "+real310+" \"$@\"\n")

	// AllPatches, so that keeping the newest per minor cannot hide a
	// duplicate.
	ins, problems := interpreter.Discover(context.Background(), interpreter.DiscoverOptions{
		PyenvRoot: root, AllPatches: true,
		PathDirs: []string{linked, filepath.Join(root, "shims"), "", wrapped, filepath.Join(root, "nowhere")},
	})
	for _, p := range problems {
		t.Errorf("problem: %v", p)
	}
	var got []string
	for _, in := range ins {
		got = append(got, in.Version+" "+in.Path)
	}
	if want := []string{"3.10.13 " + real310, "3.11.7 " + real311}; !slices.Equal(got, want) {
		t.Errorf("Discover = %q; want %q", got, want)
	}
}

// fakePython writes an executable that answers the probe as the given
// version would, under a fake pyenv root.
func fakePython(t *testing.T, root, version, name string) string {
	t.Helper()
	prefix := filepath.Join(root, "versions", version)
	bin := filepath.Join(prefix, "bin", name)
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s' '{\"prefix\": \"%s\", \"executable\": \"%s\", \"version\": \"%s\", \"implementation\": \"CPython\", \"setuptools\": \"\", \"lib2to3\": true}'\n", prefix, bin, version)
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestDiscoverNewestPatchPerMinor(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"3.11.1", "3.11.7", "3.11.10", "3.9.18", "3.10.0", "3.12.1"} {
		fakePython(t, root, v, "python3")
	}
	fakePython(t, root, "2.7.18", "python2")
	// A version whose interpreter is broken is skipped with a problem.
	broken := filepath.Join(root, "versions", "3.8.0", "bin", "python3")
	os.MkdirAll(filepath.Dir(broken), 0o755)
	os.WriteFile(broken, []byte("#!/bin/sh\necho 'Segmentation fault' >&2\nexit 139\n"), 0o755)
	dangling := filepath.Join(t.TempDir(), "gone")
	os.Symlink(filepath.Join(root, "nowhere"), dangling)

	ins, problems := interpreter.Discover(context.Background(), interpreter.DiscoverOptions{PyenvRoot: root, Paths: []string{dangling}})
	var got []string
	for _, in := range ins {
		got = append(got, in.Version)
	}
	if want := []string{"2.7.18", "3.9.18", "3.10.0", "3.11.10", "3.12.1"}; !slices.Equal(got, want) {
		t.Errorf("Discover = %q; want %q", got, want)
	}
	var msgs []string
	for _, p := range problems {
		msgs = append(msgs, p.Error())
	}
	all := strings.Join(msgs, "\n")
	if len(problems) != 2 || !strings.Contains(all, broken+" did not answer the probe") || !strings.Contains(all, dangling) {
		t.Errorf("problems:\n%s\nwant one for %s and one for %s", all, broken, dangling)
	}

	ins, _ = interpreter.Discover(context.Background(), interpreter.DiscoverOptions{PyenvRoot: root, AllPatches: true})
	got = nil
	for _, in := range ins {
		got = append(got, in.Version)
	}
	if want := []string{"2.7.18", "3.9.18", "3.10.0", "3.11.1", "3.11.7", "3.11.10", "3.12.1"}; !slices.Equal(got, want) {
		t.Errorf("Discover(AllPatches) = %q; want %q", got, want)
	}
}

func TestDiscoverNothing(t *testing.T) {
	ins, problems := interpreter.Discover(context.Background(), interpreter.DiscoverOptions{PyenvRoot: t.TempDir()})
	if len(ins) != 0 || len(problems) != 1 || !strings.Contains(problems[0].Error(), "no Python interpreter found") {
		t.Errorf("Discover in an empty root = %v, %v; want one 'no Python interpreter found' problem", ins, problems)
	}
}

func TestSelectMinors(t *testing.T) {
	var ins []interpreter.Interpreter
	for _, v := range []string{"2.7.18", "3.9.18", "3.11.7", "3.12.1"} {
		ins = append(ins, interpreter.Interpreter{Version: v, Minor: minorOf(v)})
	}
	minors := func(ins []interpreter.Interpreter) []string {
		var m []string
		for _, in := range ins {
			m = append(m, in.Minor)
		}
		return m
	}
	cases := []struct {
		ask     []string
		want    []string
		missing []string // each named in the error, and nothing else
	}{
		{ask: nil, want: []string{"2.7", "3.9", "3.11", "3.12"}},
		{ask: []string{"3.12", "2.7"}, want: []string{"2.7", "3.12"}},
		{ask: []string{"3.11", "3.5", "3.14"}, want: []string{"3.11"}, missing: []string{"3.5", "3.14"}},
		{ask: []string{"3.1"}, want: nil, missing: []string{"3.1"}},
		{ask: []string{"3.11", "3.11"}, want: []string{"3.11"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.ask, ","), func(t *testing.T) {
			got, err := interpreter.SelectMinors(ins, tc.ask)
			if !slices.Equal(minors(got), tc.want) {
				t.Errorf("SelectMinors(%q) = %q; want %q", tc.ask, minors(got), tc.want)
			}
			if len(tc.missing) == 0 {
				if err != nil {
					t.Errorf("error %v", err)
				}
				return
			}
			const prefix = "no interpreter for Python "
			if err == nil || !strings.HasPrefix(err.Error(), prefix) {
				t.Fatalf("error %v; want %q naming %q", err, prefix+"...", tc.missing)
			}
			named := strings.Split(strings.TrimPrefix(err.Error(), prefix), ", ")
			sort.Strings(named)
			sort.Strings(tc.missing)
			if !slices.Equal(named, tc.missing) {
				t.Errorf("error %q names %q; want exactly %q", err, named, tc.missing)
			}
		})
	}
}

func TestIdentify(t *testing.T) {
	for _, tc := range []struct {
		version, exe string
		abi          string
		setuptools   string
		lib2to3      bool
	}{
		{"2.7.18", "python2", "cp27mu", "41.2.0", true},
		{"3.11.7", "python3", "cp311", "65.5.0", true},
		{"3.13.0", "python3", "cp313", "", false},
	} {
		t.Run(tc.version, func(t *testing.T) {
			prefix := pyenvVersion(t, tc.version)
			in, err := interpreter.Identify(context.Background(), filepath.Join(prefix, "bin", tc.exe))
			if err != nil {
				t.Fatal(err)
			}
			want := interpreter.Interpreter{Path: in.Path, Prefix: prefix, Version: tc.version, Minor: minorOf(tc.version), Implementation: "CPython", ABI: tc.abi, Setuptools: tc.setuptools, Lib2to3: tc.lib2to3}
			if in != want {
				t.Errorf("Identify = %+v; want %+v", in, want)
			}
			if fi, err := os.Stat(in.Path); err != nil || in.Path != filepath.Join(prefix, "bin", "python"+minorOf(tc.version)) || fi.Mode()&0o111 == 0 {
				t.Errorf("Path %s is not the resolved executable: %v", in.Path, err)
			}
		})
	}
}

func TestIdentifyNotPython(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode fs.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, path, want string
	}{
		{"text file", write("notes.txt", "just some text\n", 0o644), "did not answer the probe"},
		{"binary garbage", write("blob", "\x7fELF\x00garbage", 0o755), "did not answer the probe"},
		{"shell script rejecting the flags", write("sh-python", "#!/bin/sh\necho \"unknown option $1\" >&2\nexit 2\n", 0o755), "did not answer the probe"},
		{"program answering something else", write("chatty", "#!/bin/sh\necho hello\n", 0o755), "unreadable probe output"},
		{"true", "/bin/true", "unreadable probe output"},
		{"odd version", write("odd", "#!/bin/sh\nprintf '{\"prefix\": \"/\", \"version\": \"3\"}'\n", 0o755), `odd version "3"`},
		{"missing", filepath.Join(dir, "nothing"), "no such file or directory"},
		{"directory", dir, "did not answer the probe"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, err := interpreter.Identify(context.Background(), tc.path)
			if err == nil {
				t.Fatalf("Identify(%s) = %+v; want an error", tc.path, in)
			}
			if !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Identify(%s): %v; want it to name the file and say %q", tc.path, err, tc.want)
			}
		})
	}
}
