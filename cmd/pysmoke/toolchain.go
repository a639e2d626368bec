package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pysmoke/pysmoke/runner"
	"github.com/pysmoke/pysmoke/toolchain"
)

const toolchainSynopsis = `Usage: pysmoke toolchain [flags]

Builds the offline toolchain (a wheelhouse of setuptools, wheel, pip and
pytest for every Python of this machine) unless the cache already holds one
for these interpreters, and lists what each interpreter gets. The wheels
come from each interpreter's ensurepip wheels and from Debian 11, 12 and 13
packages fetched through a private apt configuration in the cache folder;
"pysmoke run" and "pysmoke serve" build it the same way on first use.`

// toolchainFlags choose the offline toolchain's cache folder.
type toolchainFlags struct {
	dir string
}

func (t *toolchainFlags) register(fs interface {
	StringVar(*string, string, string, string)
}) {
	fs.StringVar(&t.dir, "toolchain-dir", "", "cache folder of the offline toolchain (default "+toolchain.DefaultCacheDir()+")")
}

// ensure returns the wheelhouse for every interpreter pf finds (not only
// the selected ones, so that "--python 3.12" reuses the wheelhouse of a
// full run instead of building its own), building it when missing.
func (t *toolchainFlags) ensure(ctx context.Context, pf *pythonFlags, stderr io.Writer) (*toolchain.Wheelhouse, error) {
	all, _ := runner.Discover(ctx, pf.options())
	var pys []toolchain.Python
	for _, in := range all {
		pys = append(pys, toolchain.Python{Minor: in.Minor, Prefix: in.Prefix})
	}
	start := time.Now()
	w, err := toolchain.Ensure(ctx, toolchain.Options{CacheDir: t.dir, Pythons: pys,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "pysmoke: toolchain %s (%d wheels, ready in %s)\n", w.Dir, len(w.Wheels), time.Since(start).Round(time.Millisecond))
	return w, nil
}

func cmdToolchain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("toolchain", toolchainSynopsis, stderr)
	var pf pythonFlags
	pf.register(fs)
	var tf toolchainFlags
	tf.register(fs)
	asJSON := fs.Bool("json", false, "print the manifest (every wheel, its sha256 and source; every set) as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitError{2}
	}
	ins, err := pf.discover(ctx, stderr)
	if err != nil {
		return err
	}
	w, err := tf.ensure(ctx, &pf, stderr)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Dir string `json:"dir"`
			*toolchain.Wheelhouse
		}{w.Dir, w})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PYTHON\tWHEEL FROM\tTESTS\tBUILD ENVIRONMENT\tTEST ENVIRONMENT")
	for _, in := range ins {
		s, err := w.For(in.Minor)
		if err != nil {
			fmt.Fprintf(tw, "%s\t-\t-\t%s\t\n", in.Minor, err)
			continue
		}
		test := strings.Join(s.Test, " ")
		if test == "" {
			test = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", in.Minor, s.Frontend, s.Runner, strings.Join(s.Build, " "), test)
	}
	return tw.Flush()
}
