package crawler_test

// The crawler and the local index must not share a misreading of the
// index formats, so an independent client checks them: each interpreter's
// own pip (old pips read the HTML pages, new ones the JSON; against the
// static mirror all read relative HTML links) resolves the same project
// the crawler read, and what pip picks must be what the crawler recorded:
//
//   - `pip index versions --pre` (pip >= 21.2): the versions pip sees, yanked
//     ones left out, equal the crawler's non-yanked releases;
//   - `pip download --only-binary :all:` (with and without --pre): the newest
//     release pip takes is the crawler's newest non-yanked release (final,
//     or any), and the bytes pip saved hash to what the crawler recorded;
//   - `pip download --no-binary :all:`: the sdist pip takes is the one the
//     crawler mirrored and queued for the newest final release with one,
//     byte for byte.
//
// Against the static mirror (PyPI's HTML pages, but with relative links
// and no headers) the first two are run, without --pre.
//
// The releases are built to make each rule matter: 1.10 > 1.9 (PEP 440, not
// strings), 1.11 yanked (PEP 592; pip honours it from 19.2), 1.12 without
// an sdist, 2.0rc1 a pre-release.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pysmoke/pysmoke/crawler"
	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/index"
	"github.com/pysmoke/pysmoke/internal/piptest"
	"github.com/pysmoke/pysmoke/store"
)

// crawlerView is what the crawler recorded, in the terms pip answers in.
type crawlerView struct {
	versions    []string                   // non-yanked, newest first
	newestFinal string                     // newest non-yanked final release
	newestAny   string                     // newest non-yanked release
	sdist       store.Release              // newest non-yanked final release with a queued sdist
	files       map[string]store.KnownFile // by file name
	yanked      map[string]bool            // by version
}

func viewOf(t *testing.T, f *fixture) crawlerView {
	t.Helper()
	rels, err := f.st.Releases(context.Background(), "smokegood")
	if err != nil {
		t.Fatal(err)
	}
	v := crawlerView{files: f.knownFiles(t, "smokegood"), yanked: map[string]bool{}}
	for _, r := range rels { // newest first
		v.yanked[r.Version] = r.Yanked
		if r.Yanked {
			continue
		}
		v.versions = append(v.versions, r.Version)
		if v.newestAny == "" {
			v.newestAny = r.Version
		}
		if !r.Prerelease && v.newestFinal == "" {
			v.newestFinal = r.Version
		}
		if !r.Prerelease && r.State == store.StateQueued && v.sdist.Version == "" {
			v.sdist = r
		}
	}
	return v
}

func TestPipAgreesWithCrawler(t *testing.T) {
	pythons := piptest.Interpreters()
	if len(pythons) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("no Python interpreter under $(pyenv root)/versions/*/bin/python; CI must have them")
		}
		t.Skip("no Python interpreter under $(pyenv root)/versions/*/bin/python")
	}
	eachMode(t, func(t *testing.T, m mode) {
		f := newFixture(t, m, []string{"smokegood"}, func(o *crawler.Options, _ *index.Options) { o.Backfill = 100 })
		served := piptest.NewFormats("smokegood")
		f.rec.SetObserve(served.Observe)
		for _, r := range []struct {
			version      string
			sdist, wheel bool
		}{
			{"0.9", true, false}, {"1.9", true, true}, {"1.10", true, true}, {"1.11", true, true},
			{"1.12", false, true}, {"2.0rc1", true, true},
		} {
			if r.sdist {
				f.PublishSample(t, "smokegood", r.version, false)
			}
			if r.wheel {
				f.PublishSample(t, "smokegood", r.version, true)
			}
		}
		if err := f.ix.Yank("smokegood", "1.11", "broken build"); err != nil {
			t.Fatal(err)
		}
		f.pollAll(t)
		view := viewOf(t, f)
		want := crawlerView{versions: []string{"2.0rc1", "1.12", "1.10", "1.9", "0.9"}, newestFinal: "1.12", newestAny: "2.0rc1"}
		if !slices.Equal(view.versions, want.versions) || view.newestFinal != want.newestFinal || view.newestAny != want.newestAny ||
			view.sdist.Version != "1.10" || !view.yanked["1.11"] {
			// Not fatal: what pip makes of it below says who misread.
			t.Errorf("the crawler recorded versions %v, newest final %s, newest %s, sdist of %s, yanked %v",
				view.versions, view.newestFinal, view.newestAny, view.sdist.Version, view.yanked)
		}

		t.Run("python", func(t *testing.T) {
			for _, python := range pythons {
				t.Run(filepath.Base(filepath.Dir(filepath.Dir(python))), func(t *testing.T) {
					t.Parallel()
					comparePip(t, f, view, python, served)
				})
			}
		})
	})
}

func comparePip(t *testing.T, f *fixture, view crawlerView, python string, served *piptest.Formats) {
	home := t.TempDir()
	env := piptest.Env(home)
	pipInfo, err := piptest.Probe(python, env, home)
	if err != nil {
		t.Fatal(err)
	}
	pipVersion, hasSetuptools, hasWheel := pipInfo.Version, pipInfo.Setuptools, pipInfo.Wheel
	pyVersion := filepath.Base(filepath.Dir(filepath.Dir(python)))
	t.Logf("pip %s", pipVersion)
	pip := func(args ...string) string {
		t.Helper()
		args = append([]string{"-m", "pip"}, args...)
		args = append(args, "--disable-pip-version-check", "--no-cache-dir", "--index-url", f.srv.URL+"/simple/")
		cmd := exec.Command(python, args...)
		cmd.Env, cmd.Dir = env, home
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("pip %s: %v\n%s", strings.Join(args[2:], " "), err, out)
		}
		return string(out)
	}
	// download returns the one file pip saved, checked against the
	// crawler's record of it.
	download := func(extra ...string) (string, dist.File) {
		t.Helper()
		dest := t.TempDir()
		out := pip(append([]string{"download", "--no-deps", "-d", dest, "smokegood"}, extra...)...)
		entries, _ := os.ReadDir(dest)
		if len(entries) != 1 {
			t.Fatalf("pip saved %d files\n%s", len(entries), out)
		}
		name := entries[0].Name()
		data, err := os.ReadFile(filepath.Join(dest, name))
		if err != nil {
			t.Fatal(err)
		}
		known, ok := view.files[name]
		if !ok {
			t.Fatalf("pip took %s, a file the crawler does not know", name)
		}
		if sha(data) != known.SHA256 {
			t.Errorf("%s: pip saved bytes hashing to %s, the crawler recorded %s", name, sha(data), known.SHA256)
		}
		df, err := dist.ParseFilename(name)
		if err != nil {
			t.Fatal(err)
		}
		return name, df
	}
	// pip < 19.2 predates PEP 592 and takes yanked files like any other.
	honoursYank := pipInfo.AtLeast(19, 2)

	if pipInfo.AtLeast(21, 2) {
		out := pip("index", "versions", "--pre", "smokegood")
		var got []string
		for _, line := range strings.Split(out, "\n") {
			if rest, ok := strings.CutPrefix(line, "Available versions:"); ok {
				for _, v := range strings.Split(rest, ",") {
					got = append(got, strings.TrimSpace(v))
				}
			}
		}
		if !slices.Equal(got, view.versions) {
			t.Errorf("pip index versions: %v; the crawler's non-yanked releases: %v\n%s", got, view.versions, out)
		}
	}

	wantFinal := view.newestFinal
	if _, df := download("--only-binary", ":all:"); df.Version != wantFinal {
		t.Errorf("pip took %s as the newest final release, the crawler says %s", df.Version, wantFinal)
	}
	if !f.mode.Static {
		if _, df := download("--only-binary", ":all:", "--pre"); df.Version != view.newestAny {
			t.Errorf("pip --pre took %s as the newest release, the crawler says %s", df.Version, view.newestAny)
		}
	}

	wantType := "text/html; charset=utf-8"
	if !f.mode.Static && pipInfo.AtLeast(22, 2) {
		wantType = "application/vnd.pypi.simple.v1+json"
	}
	types := served.Of(pyVersion)
	if len(types) == 0 {
		t.Errorf("no page request with Python %s in the User-Agent", pyVersion)
	}
	for _, got := range types {
		if got != wantType {
			t.Errorf("pip %s was served %q, want %q", pipVersion, got, wantType)
		}
	}

	// An sdist needs its metadata prepared locally (offline, so with the
	// interpreter's own setuptools; pip >= 23.1 also wants wheel). A static
	// mirror's pages are PyPI's HTML with relative links, which the
	// commands above already followed: its pass stops here, to keep the
	// test short.
	switch {
	case f.mode.Static:
		return
	case !hasSetuptools:
		t.Log("sdist not tried: setuptools does not import")
		return
	case !hasWheel && pipInfo.AtLeast(23, 1):
		t.Logf("sdist not tried: pip %s needs the wheel package to prepare setup.py metadata offline", pipVersion)
		return
	}
	name, df := download("--no-binary", ":all:", "--no-build-isolation")
	want := view.sdist
	if !honoursYank {
		want = store.Release{Version: "1.11"} // the yanked one is newest
	}
	if df.Version != want.Version {
		t.Errorf("pip took the sdist of %s, the crawler queued %s", df.Version, want.Version)
	}
	if honoursYank && name != want.SdistFile {
		t.Errorf("pip took %s, the crawler mirrored %s", name, want.SdistFile)
	}
	if honoursYank {
		mirrored, err := os.ReadFile(index.MirrorPath(f.mirror, want.SdistSHA256, want.SdistFile))
		if err != nil {
			t.Error(err)
		} else if sha(mirrored) != view.files[name].SHA256 {
			t.Errorf("the mirror copy of %s differs from what pip saved", name)
		}
	}
}
