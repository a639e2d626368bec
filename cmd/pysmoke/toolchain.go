package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/pysmoke/pysmoke/toolchain"
)

const toolchainSynopsis = `Usage: pysmoke toolchain [flags]

Builds the offline toolchain (a wheelhouse of setuptools, wheel, pip and
pytest for every Python of this machine) unless the cache already holds one
for these interpreters, and lists what each interpreter gets. The wheels
come from each interpreter's ensurepip wheels and from Debian 11, 12 and 13
packages fetched through a private apt configuration in the cache folder;
"pysmoke run" and "pysmoke serve" build it the same way on first use.`

func cmdToolchain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("toolchain", toolchainSynopsis, stderr)
	st := startup{noBox: true}
	st.register(fs)
	asJSON := fs.Bool("json", false, "print the manifest (every wheel, its sha256 and source; every set) as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitError{2}
	}
	env, err := st.start(ctx, stderr)
	if err != nil {
		return err
	}
	ins, w := env.pythons, env.toolchain
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
