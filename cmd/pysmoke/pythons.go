package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/pysmoke/pysmoke/interpreter"
)

// pythonFlags are the interpreter-selection flags shared by the commands.
type pythonFlags struct {
	pyenvRoot string
	only      string
	extra     string
	noPath    bool
}

func (p *pythonFlags) register(fs flagSet) {
	fs.StringVar(&p.pyenvRoot, "pyenv-root", "", "pyenv's root folder (default: $PYENV_ROOT, else ~/.pyenv)")
	fs.StringVar(&p.only, "python", "", "comma-separated minor versions to use, e.g. 2.7,3.12 (default: every one found)")
	fs.StringVar(&p.extra, "interpreters", "", "comma-separated paths of further interpreters to consider")
	fs.BoolVar(&p.noPath, "no-path", false, "do not look for python2.N and python3.N in $PATH's folders")
}

// options says where Discover looks: pyenv's versions, the extra paths,
// and (unless --no-path) $PATH's folders.
func (p *pythonFlags) options() interpreter.DiscoverOptions {
	o := interpreter.DiscoverOptions{PyenvRoot: p.pyenvRoot}
	if p.extra != "" {
		o.Paths = strings.Split(p.extra, ",")
	}
	if !p.noPath {
		o.PathDirs = filepath.SplitList(os.Getenv("PATH"))
	}
	return o
}

// discover returns the interpreters selected (--python) and every one
// found (the toolchain is built for all of them).
func (p *pythonFlags) discover(ctx context.Context, stderr io.Writer) (selected, all []interpreter.Interpreter, err error) {
	var only []string
	if p.only != "" {
		only = strings.Split(p.only, ",")
	}
	all, problems := interpreter.Discover(ctx, p.options())
	if err := ctx.Err(); err != nil {
		// Stopped while it looked: what it found is partial.
		return nil, nil, err
	}
	for _, err := range problems {
		fmt.Fprintln(stderr, "pysmoke: warning:", err)
	}
	selected, err = interpreter.SelectMinors(all, only)
	if err != nil {
		return nil, nil, err
	}
	if len(selected) == 0 {
		return nil, nil, fmt.Errorf("no Python interpreter to run on")
	}
	return selected, all, nil
}

func cmdPythons(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pythons", "Usage: pysmoke pythons [flags]\n\nLists the interpreters pysmoke finds (newest patch release of each minor version) and what each has of its own: the steps install setuptools, wheel and pytest from the offline toolchain (see pysmoke toolchain).", stderr)
	var pf pythonFlags
	pf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ins, _, err := pf.discover(ctx, stderr)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ins)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PYTHON\tVERSION\tIMPLEMENTATION\tABI\tSETUPTOOLS\tWHEEL\tLIB2TO3\tPATH")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, in := range ins {
		l2 := "no"
		if in.Lib2to3 {
			l2 = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.Minor, in.Version, in.Implementation, dash(in.ABI),
			dash(in.Setuptools), dash(in.Wheel), l2, in.Path)
	}
	return tw.Flush()
}
