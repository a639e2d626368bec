package allowlist

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	in := `# projects pysmoke watches
Foo.Bar
zope_interface   # trailing comment

bad/name
foo-bar
two words
`
	l, bad, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.Names(), []string{"foo-bar", "zope-interface"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names = %v, want %v", got, want)
	}
	var lines []int
	for _, b := range bad {
		lines = append(lines, b.Line)
	}
	if want := []int{5, 6, 7}; !reflect.DeepEqual(lines, want) {
		t.Errorf("bad lines = %v, want %v (%v)", lines, want, bad)
	}
	if !l.Contains("FOO_bar") || l.Contains("foo") {
		t.Error("Contains does not normalise")
	}
	if e, ok := l.Entry("foo.bar"); !ok || e.Display != "Foo.Bar" || e.Line != 2 || !e.Options.IsZero() {
		t.Errorf("Entry = %+v, %v", e, ok)
	}
}

func TestOptions(t *testing.T) {
	in := `requests   skip=2.7,3.6:"needs Python 3.7 syntax"  timeout=20m  # a comment
Legacy_Pkg skip=3.12,3.13:'imports distutils' skip=2.7:no\ py2 test="python -m pytest -k 'not slow' tests"
slowpkg    timeout.tests=45m timeout=5m
hashy      test=./run#1 # "#" inside a word is not a comment
`
	l, bad, err := Parse(strings.NewReader(in))
	if err != nil || len(bad) != 0 {
		t.Fatalf("err %v, bad %v", err, bad)
	}
	o, ok := l.Options("REQUESTS")
	if !ok {
		t.Fatal("requests not listed")
	}
	want := Options{Skip: []Skip{{"2.7", "needs Python 3.7 syntax"}, {"3.6", "needs Python 3.7 syntax"}}, Timeout: 20 * time.Minute}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("requests: %+v, want %+v", o, want)
	}
	if r, ok := o.Skipped("3.6"); !ok || r != "needs Python 3.7 syntax" {
		t.Errorf("Skipped(3.6) = %q, %v", r, ok)
	}
	if _, ok := o.Skipped("3.7"); ok {
		t.Error("3.7 skipped")
	}

	o, _ = l.Options("legacy-pkg")
	want = Options{
		Skip: []Skip{{"3.12", "imports distutils"}, {"3.13", "imports distutils"}, {"2.7", "no py2"}},
		Test: []string{"python", "-m", "pytest", "-k", "not slow", "tests"},
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("legacy-pkg: %+v, want %+v", o, want)
	}

	o, _ = l.Options("slowpkg")
	if o.TimeoutFor("tests") != 45*time.Minute || o.TimeoutFor("sdist") != 5*time.Minute {
		t.Errorf("slowpkg timeouts: %+v", o)
	}
	if o, _ := l.Options("requests"); o.TimeoutFor("tests") != 20*time.Minute {
		t.Errorf("timeout= does not apply to each step: %+v", o)
	}
	if o, _ := l.Options("hashy"); !reflect.DeepEqual(o.Test, []string{"./run#1"}) {
		t.Errorf("hashy test %q", o.Test)
	}
	if o, ok := l.Options("nope"); ok || !o.IsZero() {
		t.Errorf("Options of an unlisted project: %+v, %v", o, ok)
	}
}

func TestOptionErrors(t *testing.T) {
	cases := []struct{ line, want string }{
		{`p skip=3.12`, "gives no reason"},
		{`p skip=3.12:`, "gives no reason"},
		{`p skip=3.12:"  "`, "gives no reason"},
		{`p skip=py3:"why"`, "not a Python minor version"},
		{`p skip=3.12:"a" skip=3.12:"b"`, "skipped twice"},
		{`p timeout=soon`, "not a duration"},
		{`p timeout=-1m`, "not between"},
		{`p timeout=48h`, "not between"},
		{`p timeout=1m timeout=2m`, "given twice"},
		{`p timeout.compile=1m`, `no step "compile"`},
		{`p test=""`, "needs a value"},
		{`p test="python -c 'oops"`, "unterminated"},
		{`p colour=blue`, "unknown option"},
		{`p skip=3.12:"unterminated`, "unterminated"},
		{`p stray`, "unexpected"},
	}
	for _, c := range cases {
		l, bad, err := Parse(strings.NewReader("good\n" + c.line + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		if len(bad) != 1 || bad[0].Line != 2 || !strings.Contains(bad[0].Error(), c.want) {
			t.Errorf("%s: bad lines %v, want line 2 with %q", c.line, bad, c.want)
			continue
		}
		// The rest still loads; the bad line loads nothing.
		if got := l.Names(); !reflect.DeepEqual(got, []string{"good"}) {
			t.Errorf("%s: names %v", c.line, got)
		}
	}
}

func TestWatcherReloads(t *testing.T) {
	p := filepath.Join(t.TempDir(), "allow.txt")
	if err := os.WriteFile(p, []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := NewWatcher(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Watch(ctx, 10*time.Millisecond)
	if err := os.WriteFile(p, []byte("a\nbee skip=2.7:\"old\"\nbad/name\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !w.List().Contains("bee") {
		if time.Now().After(deadline) {
			t.Fatal("reload not seen")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if o, _ := w.List().Options("bee"); len(o.Skip) != 1 {
		t.Errorf("options not loaded: %+v", o)
	}
	if pr := w.Problems(); len(pr) != 1 || pr[0].Line != 3 {
		t.Errorf("problems %v, want line 3", pr)
	}
	// An edit that keeps the size is seen too (contents are compared).
	if err := os.WriteFile(p, []byte("c\nbee skip=2.7:\"old\"\nbad/name\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, err := w.Reload(); err != nil || !changed || !w.List().Contains("c") {
		t.Errorf("same-size edit: changed %v, err %v", changed, err)
	}
	if changed, err := w.Reload(); err != nil || changed {
		t.Errorf("no edit: changed %v, err %v", changed, err)
	}
	// An unreadable file keeps the last good list.
	os.Remove(p)
	if _, err := w.Reload(); err == nil {
		t.Error("no error for a vanished file")
	}
	if !w.List().Contains("c") {
		t.Error("lost the list when the file vanished")
	}
}
