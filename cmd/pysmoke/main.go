// Command pysmoke smoke-tests releases of Python packages: it watches an
// index for new releases of allowlisted projects, runs each release on
// every Python of the machine in a sealed sandbox, and publishes the
// results as HTML, JSON, feeds and badges.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `pysmoke smoke-tests Python package releases on every Python of this machine.

Usage:
  pysmoke serve   [flags]          watch an index, test new releases, serve reports
  pysmoke worker  [flags]          run a service's jobs on this machine, from
                                   the Postgres database it shares
  pysmoke run     [flags] SDIST    test one sdist here and print the matrix
  pysmoke rerun   --reason WHY [flags] PROJECT[==VERSION]
                                   queue a project's cells again in a service's
                                   data (runs of cause "admin")
  pysmoke remove  --reason WHY [flags] PROJECT
                                   delete what a service recorded of a project
  pysmoke retention [--apply --reason WHY] [flags]
                                   what the artifact retention would free;
                                   with --apply, free it
  pysmoke export  [flags] DIR      write a service's reports as a static site
  pysmoke experiment [flags] NAME [PROJECT[==VERSION] | SDIST ...]
                                   run releases with the baseline and with a
                                   candidate toolchain or interpreter, and
                                   report what the candidate breaks
  pysmoke noise   [flags] NAME [PROJECT[==VERSION] | SDIST ...]
                                   run releases twice on one Python, nothing
                                   changed, and report the flake rate
  pysmoke pythons [flags]          list the interpreters pysmoke would use
  pysmoke image   [flags]          build the Docker sandbox's image
  pysmoke toolchain [flags]        build (once, cached) and list the offline
                                   wheelhouse the jobs install their tools from
  pysmoke index   [flags]          serve a directory of sdists and wheels as a
                                   PyPI-compatible index (tests and the demo)
  pysmoke index publish [flags] SAMPLE_DIR...
                                   build sample projects into an index directory

Run "pysmoke COMMAND -h" for a command's flags.
`

// exitError carries a process exit status out of a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.code)
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "pysmoke:", err)
		os.Exit(2)
	}
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError{2}
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "worker":
		return cmdWorker(ctx, args[1:], stdout, stderr)
	case "run":
		return cmdRun(ctx, args[1:], stdout, stderr)
	case "rerun":
		return cmdRerun(ctx, args[1:], stdout, stderr)
	case "remove":
		return cmdRemove(ctx, args[1:], stdout, stderr)
	case "retention":
		return cmdRetention(ctx, args[1:], stdout, stderr)
	case "export":
		return cmdExport(ctx, args[1:], stdout, stderr)
	case "experiment":
		return cmdExperiment(ctx, args[1:], stdout, stderr)
	case "noise":
		return cmdNoise(ctx, args[1:], stdout, stderr)
	case "pythons":
		return cmdPythons(ctx, args[1:], stdout, stderr)
	case "image":
		return cmdImage(ctx, args[1:], stdout, stderr)
	case "toolchain":
		return cmdToolchain(ctx, args[1:], stdout, stderr)
	case "index":
		if len(args) > 1 && args[1] == "publish" {
			return cmdIndexPublish(ctx, args[2:], stdout, stderr)
		}
		return cmdIndex(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "pysmoke: unknown command %q\n\n%s", args[0], usage)
	return exitError{2}
}

// newFlags returns a flag set that prints a command's own help and
// returns errors instead of exiting.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// databaseFlag is --database, shared by the commands that open a
// service's store: a Postgres URL, or by default the SQLite file of the
// data folder. PYSMOKE_DATABASE or the config file give it too, so that a
// password need not be on a command line (parseSettings).
func databaseFlag(fs *flag.FlagSet) *string {
	return fs.String("database", "",
		"Postgres URL (postgres://USER:PASSWORD@HOST/DB) of the results and the queue, shared with workers on other machines; default the SQLite file pysmoke.db in the data folder")
}

// parseFlags parses args; a bad flag prints the usage and exits 2.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return exitError{2}
	}
	return nil
}

// newLogger is the logger of --log-level and --log-format: text
// (key=value, for people) or json (one object a line, for collectors).
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad --log-level %q (debug, info, warn, error)", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("bad --log-format %q (text, json)", format)
}
