package main

// What the commands that run jobs do first, in one place: find the
// interpreters, pick the sandbox backend, make sure of the offline
// toolchain. Their flags are these commands' own.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/sandbox"
	"github.com/pysmoke/pysmoke/toolchain"
)

// startup holds the flags of a command's start.
type startup struct {
	py      pythonFlags
	sandbox sandboxFlags
	tc      toolchainFlags
	noBox   bool // the command runs no job: no --sandbox
	// pythonsOnly, set after the flags are parsed, makes start find the
	// interpreters alone: no job runs here (serve --workers 0).
	pythonsOnly bool
}

// flagSet is what the flags register on (a *flag.FlagSet).
type flagSet interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
}

// register adds the start's flags to fs.
func (s *startup) register(fs flagSet) {
	s.py.register(fs)
	if !s.noBox {
		s.sandbox.register(fs)
	}
	s.tc.register(fs)
}

// started is what a command starts with.
type started struct {
	pythons   []interpreter.Interpreter
	backend   sandbox.Backend // nil for a command that runs no job
	toolchain *toolchain.Wheelhouse
}

// start finds the interpreters, picks the backend (unless the command runs
// no job) and ensures the toolchain, saying on stderr what it chose.
func (s *startup) start(ctx context.Context, stderr io.Writer) (*started, error) {
	var out started
	pythons, all, err := s.py.discover(ctx, stderr)
	if err != nil {
		return nil, err
	}
	out.pythons = pythons
	if s.pythonsOnly {
		return &out, nil
	}
	if !s.noBox {
		if out.backend, err = s.sandbox.backend(ctx, stderr); err != nil {
			return nil, err
		}
	}
	if out.toolchain, err = s.tc.ensure(ctx, all, stderr); err != nil {
		return nil, err
	}
	return &out, nil
}

// sandboxFlags select the sandbox backend.
type sandboxFlags struct {
	name string
}

func (s *sandboxFlags) register(fs flagSet) {
	fs.StringVar(&s.name, "sandbox", "auto", "sandbox backend: auto (the first that can run), namespace or docker")
}

func (s *sandboxFlags) backend(ctx context.Context, stderr io.Writer) (sandbox.Backend, error) {
	b, why, err := sandbox.Select(ctx, s.name, &sandbox.Namespace{}, &sandbox.Docker{})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "pysmoke: sandbox %s: %s\n", b.Name(), why)
	return b, nil
}

// toolchainFlags choose the offline toolchain's cache folder.
type toolchainFlags struct {
	dir string
}

func (t *toolchainFlags) register(fs flagSet) {
	fs.StringVar(&t.dir, "toolchain-dir", "", "cache folder of the offline toolchain (default "+toolchain.DefaultCacheDir()+")")
}

// ensure returns the wheelhouse for every interpreter found (all: not
// only the selected ones, so that "--python 3.12" reuses the wheelhouse
// of a full run instead of building its own), building it when missing.
func (t *toolchainFlags) ensure(ctx context.Context, all []interpreter.Interpreter, stderr io.Writer) (*toolchain.Wheelhouse, error) {
	var pys []toolchain.Python
	for _, in := range all {
		pys = append(pys, toolchain.Python{Minor: in.Minor, Prefix: in.Prefix})
	}
	start := time.Now()
	w, err := toolchain.Ensure(ctx, toolchain.Options{CacheDir: t.dir, Pythons: pys,
		Logger:   slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Progress: toolchainProgress(stderr)})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "pysmoke: toolchain %s (%d wheels, ready in %s)\n", w.Dir, len(w.Wheels), time.Since(start).Round(time.Millisecond))
	return w, nil
}

// toolchainProgress says on w how a toolchain build goes (a first build
// takes minutes): when it starts, then at most every 5 s and at the end.
func toolchainProgress(w io.Writer) func(toolchain.Progress) {
	var last time.Time
	return func(p toolchain.Progress) {
		switch {
		case p.Done == 0:
			fmt.Fprintf(w, "pysmoke: building the offline toolchain from Debian's packages: %d parts (once; cached after)\n", p.Total)
			last = time.Now()
			return
		case p.Done < p.Total && time.Since(last) < 5*time.Second:
			return
		}
		last = time.Now()
		line := fmt.Sprintf("pysmoke: toolchain %d of %d parts (%d%%) in %s, %.1f parts/min", p.Done, p.Total,
			100*p.Done/max(p.Total, 1), p.Elapsed.Round(time.Second), float64(p.Done)/max(p.Elapsed.Minutes(), 1e-9))
		if left := p.Left(); left > 0 {
			line += fmt.Sprintf(", about %s left", left.Round(time.Second))
		}
		fmt.Fprintf(w, "%s (%s)\n", line, p.Part)
	}
}
