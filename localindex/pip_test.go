package localindex

// The independent-client test: every Python interpreter pyenv provides
// downloads the smokegood sample from the index with its own pip, and the
// bytes it saves must be the bytes the index serves. Old pips (18.x on
// 3.6, 19.x on 2.7, 22.0 on 3.7) read only the HTML simple API and newer
// ones ask for JSON, so this pins both renderings against real clients.

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/internal/piptest"
)

// pipRun is what every interpreter's subtest shares.
type pipRun struct {
	srvURL     string
	formats    *piptest.Formats
	want       map[string]string // file name -> sha256 of the bytes served
	sdist      string            // file names
	wheel      string
	sdistTried atomic.Int32
}

func TestPipDownload(t *testing.T) {
	pythons := piptest.Interpreters()
	if len(pythons) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("no Python interpreter under $(pyenv root)/versions/*/bin/python; CI must have them")
		}
		t.Skip("no Python interpreter under $(pyenv root)/versions/*/bin/python")
	}

	ix, err := New(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	formats := piptest.NewFormats("smokegood")
	srv := httptest.NewServer(formats.Wrap(ix.Handler()))
	t.Cleanup(srv.Close)
	sdistPath, wheelPath := buildSample(t, "smokegood", "1.0")
	built := map[string]string{}
	for _, p := range []string{sdistPath, wheelPath} {
		built[filepath.Base(p)] = sha256Hex(addPath(t, ix, p))
	}

	// What the index serves, read the way a client reads it: the JSON
	// page's hashes, checked against the bytes at each file's URL.
	run := &pipRun{srvURL: srv.URL, formats: formats, want: map[string]string{},
		sdist: filepath.Base(sdistPath), wheel: filepath.Base(wheelPath)}
	_, body := mustGet(t, http.StatusOK, srv.URL+"/simple/smokegood/", "Accept", mimeV1JSON)
	var page struct {
		Files []struct {
			Filename string
			URL      string
			Hashes   map[string]string
		}
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	for _, f := range page.Files {
		_, data := mustGet(t, http.StatusOK, f.URL)
		if sum := sha256Hex(data); sum != f.Hashes["sha256"] || sum != built[f.Filename] {
			t.Fatalf("%s: served bytes hash to %s; page says %s; built %s", f.Filename, sum, f.Hashes["sha256"], built[f.Filename])
		}
		run.want[f.Filename] = f.Hashes["sha256"]
	}
	if len(run.want) != 2 {
		t.Fatalf("index serves %v, want the sdist and the wheel", run.want)
	}

	// The group returns once its parallel subtests are done.
	t.Run("python", func(t *testing.T) {
		for _, python := range pythons {
			version := filepath.Base(filepath.Dir(filepath.Dir(python)))
			t.Run(version, func(t *testing.T) {
				t.Parallel()
				run.test(t, python)
			})
		}
	})
	// Any one interpreter may lack the build tools for the sdist, but if
	// all do, no source download was exercised at all.
	if run.sdistTried.Load() == 0 && os.Getenv("CI") != "" {
		t.Error("no interpreter could download the sdist")
	}
}

// test runs one interpreter's pip against the index.
func (run *pipRun) test(t *testing.T, python string) {
	home := t.TempDir()
	env := piptest.Env(home)

	pipInfo, err := piptest.Probe(python, env, home)
	if err != nil {
		t.Fatal(err)
	}
	pipVersion, hasSetuptools, hasWheel := pipInfo.Version, pipInfo.Setuptools, pipInfo.Wheel
	pyVersion := filepath.Base(filepath.Dir(filepath.Dir(python)))
	t.Logf("pip %s, setuptools %t, wheel %t", pipVersion, hasSetuptools, hasWheel)

	download := func(name string, extra ...string) {
		t.Helper()
		dest := t.TempDir()
		args := append([]string{"-m", "pip", "download", "--no-deps", "--no-cache-dir",
			"--disable-pip-version-check", "--index-url", run.srvURL + "/simple/", "-d", dest,
			"smokegood==1.0"}, extra...)
		cmd := exec.Command(python, args...)
		cmd.Env, cmd.Dir = env, home
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("pip download %s: %v\n%s", name, err, out)
		}
		t.Logf("pip download %s: %v", name, time.Since(start).Round(time.Millisecond))
		entries, err := os.ReadDir(dest)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Name() != name {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Fatalf("pip saved %v, want [%s]\n%s", names, name, out)
		}
		got, err := os.ReadFile(filepath.Join(dest, name))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256Hex(got); sum != run.want[name] {
			t.Errorf("pip saved %s with sha256 %s, index serves %s", name, sum, run.want[name])
		}
	}

	download(run.wheel, "--only-binary=:all:")

	// pip asks for PEP 691 JSON from 22.2 on; before, it reads HTML.
	wantType := "text/html; charset=utf-8"
	if pipInfo.AtLeast(22, 2) {
		wantType = mimeV1JSON
	}
	for _, got := range run.formats.Of(pyVersion) {
		if got != wantType {
			t.Errorf("pip %s was served the project page as %q, want %q", pipVersion, got, wantType)
		}
	}
	if len(run.formats.Of(pyVersion)) == 0 {
		t.Errorf("no request for /simple/smokegood/ with Python %s in the User-Agent", pyVersion)
	}

	// Downloading an sdist makes pip prepare its metadata locally, and
	// offline (--no-build-isolation) that takes setuptools in the
	// interpreter. pip >= 23.1 also wants wheel: without it pip switches to
	// PEP 517, where setuptools < 70.1 fails with "invalid command
	// 'bdist_wheel'" after downloading the file, and it refuses
	// --no-use-pep517. That is the interpreter's gap, not the index's, so
	// such interpreters fetch only the wheel.
	switch {
	case !hasSetuptools:
		t.Log("sdist not tried: setuptools does not import")
		return
	case !hasWheel && pipInfo.AtLeast(23, 1):
		t.Logf("sdist not tried: pip %s needs the wheel package to prepare setup.py metadata offline", pipVersion)
		return
	}
	download(run.sdist, "--no-binary=:all:", "--no-build-isolation")
	run.sdistTried.Add(1)
}
