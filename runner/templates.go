package runner

// Environment templates. Making an environment (a venv, or Python 2's
// user base, and pip installing the toolchain's wheels into it) costs one
// to three seconds of a job's CPU, and every job makes the same build and
// test environments again. So the toolchain's part of an environment is
// made once, at its own path (/build/env/<kind>: a venv records its path
// in its scripts), in a sandbox of its own where nothing but the
// toolchain's pip has run, and kept beside the toolchain; a job copies it
// into its scratch, at the same path, and installs only its own wheels
// (the release's, its dependencies) on top.
//
// A template is keyed by everything it is made from: the interpreter (its
// path, version and tree), the environment's path and the toolchain's
// wheels, in order. The toolchain folder's key covers the wheels' bytes.
// One is written under a temporary name and renamed into place whole, so
// that two processes making the same template at once (the service and
// a test, say) each see either none or all of it.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/sandbox"
)

// templates makes and finds environment templates. Safe for concurrent
// use.
type templates struct {
	r   *Runner
	dir string // the store, beside the toolchain's wheels
	mu  sync.Mutex
	// made holds each template's making, so that jobs wanting one at once
	// wait for the one making it.
	made map[string]*templateMaking
}

type templateMaking struct {
	once sync.Once
	path string
	err  error
}

// templateStore is where the templates of a toolchain whose wheels are in
// wheelsDir are kept.
func templateStore(wheelsDir string) string {
	return filepath.Join(filepath.Dir(wheelsDir), "envs")
}

// key names the template of kind made with wheels on in.
func (t *templates) key(in interpreter.Interpreter, kind string, wheels []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", in.Path, in.Version, treeHash(in.Prefix), path.Join(sandbox.BuildRoot, "env", kind))
	for _, w := range wheels {
		fmt.Fprintf(h, "%s\x00", w)
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// get returns the host path of the template of kind with wheels (file
// names of the toolchain's) on in, making it first when it is missing.
func (t *templates) get(ctx context.Context, in interpreter.Interpreter, kind string, wheels []string) (string, error) {
	key := t.key(in, kind, wheels)
	dst := filepath.Join(t.dir, key)
	if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
		return dst, nil
	}
	t.mu.Lock()
	m, ok := t.made[key]
	if !ok {
		m = &templateMaking{}
		t.made[key] = m
	}
	t.mu.Unlock()
	m.once.Do(func() {
		m.path, m.err = dst, t.make(ctx, in, kind, wheels, dst)
	})
	if m.err != nil {
		// A later job tries again (this one may have been cancelled).
		t.mu.Lock()
		if t.made[key] == m {
			delete(t.made, key)
		}
		t.mu.Unlock()
	}
	return m.path, m.err
}

// make makes a template in a sandbox of its own, fresh, with the default
// limits (the toolchain's pip is all that runs), and copies it out of the
// scratch into dst.
func (t *templates) make(ctx context.Context, in interpreter.Interpreter, kind string, wheels []string, dst string) error {
	r := t.r
	set, err := r.opts.Toolchain.For(in.Minor)
	if err != nil {
		return err
	}
	sc, err := r.opts.Backend.NewScratch(r.opts.ScratchDir, sandbox.Limits{})
	if err != nil {
		return err
	}
	defer sc.Close()
	if err := sc.MkdirAll("home"); err != nil {
		return err
	}
	sb, err := r.opts.Backend.Open(ctx, sandbox.Spec{Scratch: sc, ReadOnly: []string{in.Prefix, r.opts.Toolchain.Dir}})
	if err != nil {
		return err
	}
	defer sb.Close()
	es := &environments{sb: sb, in: in, base: stepEnv(in, 0), wheels: r.opts.Toolchain.Dir, set: set,
		logLimit: r.opts.LogLimit, timeout: r.opts.StepTimeout, made: map[string]*environment{}}
	e, err := es.direct(ctx, kind, wheels)
	if err != nil {
		return err
	}
	if e.failed != "" {
		return fmt.Errorf("%s\n%s", e.failed, e.log)
	}
	if err := sb.Close(); err != nil {
		return err
	}
	if err := os.MkdirAll(t.dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(t.dir, ".making-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // gone once renamed
	if err := copyTree(sc.Root(), "env/"+kind, tmp); err != nil {
		return fmt.Errorf("copy the %s environment out: %w", kind, err)
	}
	// Readable by the sandbox's uid, which copies it in.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		if fi, serr := os.Stat(dst); serr == nil && fi.IsDir() {
			return nil // another process made it first
		}
		return err
	}
	r.opts.Logger.Info("environment template made", "python", in.Minor, "kind", kind, "dir", dst)
	return nil
}

// copyTree copies the folder dir of root to the host folder dst (which
// exists): folders, regular files and links as they are (a venv's python
// is a link to the interpreter), through the root, so that nothing out of
// it is followed.
func copyTree(root *os.Root, dir, dst string) error {
	return fs.WalkDir(root.FS(), dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, dir), "/")
		out := filepath.Join(dst, filepath.FromSlash(rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode()
		switch {
		case d.IsDir():
			if rel == "" {
				return nil
			}
			return os.Mkdir(out, mode.Perm()|0o700)
		case mode&fs.ModeSymlink != 0:
			target, err := root.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, out)
		case mode.IsRegular():
			in, err := root.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			return writeNew(os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode.Perm()))(in)
		}
		return errors.New(p + ": neither a folder, a file nor a link")
	})
}
