package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/pysmoke/pysmoke/service"
)

const rerunSynopsis = `Usage: pysmoke rerun [flags] PROJECT [VERSION]

Queues again the cells of PROJECT (of one VERSION, or of every release
recorded) in a service's data folder, as runs of cause "admin": the service
runs them now, or when it next starts. Each run is kept beside the earlier
ones; the cell's current run becomes the new one once it completes.`

func cmdRerun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rerun", rerunSynopsis+configHelp, stderr)
	dataDir := fs.String("data", "pysmoke-data", "the service's data folder (pysmoke serve --data)")
	database := databaseFlag(fs)
	only := fs.String("python", "", "comma-separated minor versions to rerun on, e.g. 2.7,3.12 (default: every one the service runs)")
	if err := parseSettings(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fs.Usage()
		return exitError{2}
	}
	var pythons []string
	if *only != "" {
		pythons = strings.Split(*only, ",")
	}
	builds, err := service.Rerun(ctx, *dataDir, *database, fs.Arg(0), fs.Arg(1), pythons)
	if err != nil {
		return err
	}
	for _, b := range builds {
		fmt.Fprintf(stdout, "queued %s %s on %s\n", b.Project, b.Version, b.Python)
	}
	return nil
}
