package index_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pysmoke/pysmoke/index"
	"github.com/pysmoke/pysmoke/internal/indextest"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/resolver"
)

// fixture is a local index over HTTP and a client of it.
type fixture struct {
	*indextest.Server
	c      *index.Client
	mirror string
}

func newFixture(t *testing.T, m indextest.Mode) *fixture {
	t.Helper()
	f := &fixture{Server: indextest.NewServer(t, m)}
	f.mirror = filepath.Join(f.Dir, "mirror")
	var err error
	opts := f.ClientOptions(f.mirror)
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	f.c, err = index.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// mirrored lists the files in the mirror.
func (f *fixture) mirrored(t *testing.T) []string {
	t.Helper()
	entries, _ := filepath.Glob(filepath.Join(f.mirror, "*", "*", "*"))
	var out []string
	for _, e := range entries {
		if !strings.HasPrefix(filepath.Base(e), ".") {
			out = append(out, filepath.Base(e))
		}
	}
	return out
}

// wheelWithMetadata is a wheel whose METADATA is metadata.
func wheelWithMetadata(t *testing.T, filename, distInfo, metadata string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create(distInfo + "/METADATA")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(metadata))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDependencyIndex: the crawler as resolver.Index over real HTTP, in
// both index modes. A wheel's metadata comes from its PEP 658 file without
// downloading the wheel; a file is fetched into the mirror only when asked
// for, verified; an sdist's metadata is refused (a sandbox makes it); an
// unknown project is resolver.ErrNoProject.
func TestDependencyIndex(t *testing.T) {
	indextest.EachMode(t, func(t *testing.T, m indextest.Mode) {
		f := newFixture(t, m)
		ctx := context.Background()
		meta := "Metadata-Version: 2.1\nName: Dep.Lib\nVersion: 2.0\nRequires-Python: >=3.7\n" +
			"Requires-Dist: other>=1\nRequires-Dist: pytest; extra == \"test\"\nProvides-Extra: test\n\nLong text.\n"
		whl := "dep_lib-2.0-py3-none-any.whl"
		data := wheelWithMetadata(t, whl, "dep_lib-2.0.dist-info", meta)
		if err := f.Index.AddFile(whl, data); err != nil {
			t.Fatal(err)
		}
		sdistName, _ := f.Publish(t, "dep-lib", "1.0", ".tar.gz")

		cands, err := f.c.Files(ctx, "Dep_Lib")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		var wheel resolver.Candidate
		for _, c := range cands {
			names = append(names, c.Filename)
			if c.Filename == whl {
				wheel = c
			}
		}
		slices.Sort(names)
		if want := []string{sdistName, whl}; !slices.Equal(names, want) {
			t.Fatalf("files %v, want %v", names, want)
		}
		if wheel.Project != "dep-lib" || wheel.Version != "2.0" || wheel.SHA256 != indextest.SHA256(data) || wheel.RequiresPython != ">=3.7" ||
			wheel.CoreMetadata != "sha256="+indextest.SHA256([]byte(meta)) {
			t.Errorf("wheel candidate %+v", wheel)
		}

		got, err := f.c.Metadata(ctx, wheel)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Dep.Lib" || got.Version != "2.0" || got.RequiresPython != ">=3.7" ||
			strings.Join(got.RequiresDist, "|") != `other>=1|pytest; extra == "test"` {
			t.Errorf("metadata %+v", got)
		}
		if n := f.FileRequests(); n != 1 {
			t.Errorf("%d requests for files, want 1 (the .metadata file, not the wheel)", n)
		}
		// Kept in the mirror: asked again, nothing is downloaded.
		if _, err := f.c.Metadata(ctx, wheel); err != nil {
			t.Fatal(err)
		}
		if n := f.FileRequests(); n != 1 {
			t.Errorf("%d requests for files after a second look, want still 1", n)
		}

		for _, c := range cands {
			if c.Filename != sdistName {
				continue
			}
			if _, err := f.c.Metadata(ctx, c); !errors.Is(err, index.ErrSdistMetadata) {
				t.Errorf("sdist metadata: %v, want ErrSdistMetadata", err)
			}
			p, err := f.c.Fetch(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(p)
			if err != nil || indextest.SHA256(b) != c.SHA256 {
				t.Errorf("fetched %s: %v, hash %s, want %s", p, err, indextest.SHA256(b), c.SHA256)
			}
		}
		if _, err := f.c.Files(ctx, "nowhere"); !errors.Is(err, resolver.ErrNoProject) {
			t.Errorf("unknown project: %v, want ErrNoProject", err)
		}
	})
}

// TestDependencyIndexBadBytes: a dependency whose served bytes do not match
// the index's hash never reaches the mirror, and neither does a metadata
// file that does not match its announced hash (the wheel is read instead,
// and it too is refused here).
func TestDependencyIndexBadBytes(t *testing.T) {
	f := newFixture(t, indextest.PyPI)
	ctx := context.Background()
	meta := "Metadata-Version: 2.1\nName: bad\nVersion: 1.0\n"
	whl := "bad-1.0-py3-none-any.whl"
	if err := f.Index.AddFile(whl, wheelWithMetadata(t, whl, "bad-1.0.dist-info", meta)); err != nil {
		t.Fatal(err)
	}
	cands, err := f.c.Files(ctx, "bad")
	if err != nil || len(cands) != 1 {
		t.Fatalf("files %v %v", cands, err)
	}
	f.Index.InjectFault("/packages/", localindex.Fault{WrongBytes: true})
	if _, err := f.c.Metadata(ctx, cands[0]); err == nil || !strings.Contains(err.Error(), "SHA-256 mismatch") {
		t.Errorf("metadata with wrong bytes: %v, want a SHA-256 mismatch", err)
	}
	if got := f.mirrored(t); len(got) != 0 {
		t.Errorf("mirror holds %v, want nothing", got)
	}
}
