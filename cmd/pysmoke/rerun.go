package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/service"
)

const rerunSynopsis = `Usage: pysmoke rerun --reason WHY [flags] PROJECT[==VERSION] [VERSION]

Queues again the cells of PROJECT (of one VERSION, or of every release
recorded) in a service's data, as runs of cause "admin": the service runs
them now, or when it next starts. Each run is kept beside the earlier ones;
the cell's current run becomes the new one once it completes. The action is
recorded with who asked (--by) and why (--reason), and shown on the
project's page.`

const removeSynopsis = `Usage: pysmoke remove --reason WHY [flags] PROJECT

Deletes everything a service recorded of PROJECT: its releases, every run
of its cells with their logs, its crawl state and its builds waiting in
the queue (one running ends as it would, and is not recorded). The action
is kept, with who (--by) and why (--reason). A project still on the
allowlist is found again by the next crawl and tested afresh: take it off
the allowlist first to be rid of it.`

// adminFlags are who asks for an administrative action and why.
type adminFlags struct {
	dataDir, database, by, reason *string
}

func (a *adminFlags) register(fs *flag.FlagSet) {
	a.dataDir = fs.String("data", "pysmoke-data", "the service's data folder (pysmoke serve --data)")
	a.database = databaseFlag(fs)
	a.reason = fs.String("reason", "", "why (required; recorded with the action and shown on the project's page)")
	a.by = fs.String("by", defaultActor(), "who asks (recorded with the action)")
}

func (a *adminFlags) admin() service.Admin {
	return service.Admin{DataDir: *a.dataDir, Database: *a.database, Actor: *a.by, Reason: *a.reason}
}

// defaultActor is the user running the command, at this host.
func defaultActor() string {
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	host, _ := os.Hostname()
	return who + "@" + host
}

func cmdRerun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rerun", rerunSynopsis+configHelp, stderr)
	var a adminFlags
	a.register(fs)
	only := fs.String("python", "", "comma-separated minor versions to rerun on, e.g. 2.7,3.12 (default: every one the service runs)")
	if err := parseSettings(fs, args); err != nil {
		return err
	}
	project, version, pinned := strings.Cut(fs.Arg(0), "==")
	if fs.NArg() < 1 || fs.NArg() > 2 || (pinned && fs.NArg() > 1) {
		fs.Usage()
		return exitError{2}
	}
	if !pinned {
		version = fs.Arg(1)
	}
	var pythons []string
	if *only != "" {
		pythons = strings.Split(*only, ",")
	}
	builds, err := service.Rerun(ctx, a.admin(), project, version, pythons)
	if err != nil {
		return err
	}
	for _, b := range builds {
		fmt.Fprintf(stdout, "queued %s %s on %s\n", b.Project, b.Version, b.Python)
	}
	return nil
}

func cmdRemove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("remove", removeSynopsis+configHelp, stderr)
	var a adminFlags
	a.register(fs)
	if err := parseSettings(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError{2}
	}
	detail, err := service.Remove(ctx, a.admin(), fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "removed %s: %s\n", fs.Arg(0), detail)
	return nil
}

const retentionSynopsis = `Usage: pysmoke retention [--apply --reason WHY] [flags]

Says what the service's retention would free in its data folder's artifact
store: the archives the steps built (kept for diffs) that no run of each
project's --keep-releases latest releases recorded, except those put within
two jobs' time (a running job's, not recorded yet); and in its store, the
whole logs of the older releases' runs (each log's last 64 KiB stays). With --apply it frees
them, and records the action with who (--by) and why (--reason). The
service applies the same retention hourly; it need not be stopped.`

func cmdRetention(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("retention", retentionSynopsis+configHelp, stderr)
	var a adminFlags
	a.register(fs)
	keep := fs.Int("keep-releases", 3, "how many of each project's latest releases keep their archives (as pysmoke serve --keep-releases)")
	stepTimeout := fs.Duration("step-timeout", 10*time.Minute, "the service's step limit: archives younger than two jobs' time are kept")
	apply := fs.Bool("apply", false, "free what would be freed (without it: only say)")
	if err := parseSettings(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitError{2}
	}
	rep, err := service.Retention(ctx, a.admin(), *keep, *stepTimeout, *apply)
	if err != nil {
		return err
	}
	verb := "would free"
	if rep.Applied {
		verb = "freed"
	}
	fmt.Fprintf(stdout, "retention (the archives of each project's %d latest releases kept): %s %d files (%d bytes); %d files (%d bytes) stay\n",
		*keep, verb, rep.Freed.Files, rep.Freed.Bytes, rep.Kept.Files, rep.Kept.Bytes)
	fmt.Fprintf(stdout, "retention (the whole logs of each project's %d latest releases kept, the others' last 64 KiB): %s %d whole logs (%d bytes compressed)\n",
		*keep, verb, rep.Logs.Logs, rep.Logs.Bytes)
	return nil
}
