package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"

	"github.com/pysmoke/pysmoke/service"
)

const workerSynopsis = `Usage: pysmoke worker --database postgres://... --allowlist FILE [flags]

Runs the jobs of a pysmoke service on this machine: the builds the service
queues in the Postgres database it shares with its workers (pysmoke serve
--database, often with --workers 0). Each build runs in a sandbox of this
machine, on its interpreter of the build's Python, and its run is recorded
in the database with this worker's name (--worker, unique among the
workers) and this machine's provenance. A build for a Python this machine
does not have is left to a worker that has it.

The sdist of a build is fetched from the index (--index, as the service's)
into this worker's mirror in --data, and checked against the SHA-256 the
service recorded. The allowlist file must say what the service's says
(test commands, time limits, skips): copy it or share it.

A worker that was killed cleans up after itself as it next starts (its step
groups, its jobs' scratch and containers; the builds it was running are
taken back at once). --listen serves /healthz, /readyz and /metrics.`

func cmdWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("worker", workerSynopsis+configHelp, stderr)
	var jf jobFlags
	jf.register(fs, runtime.NumCPU(), "how many jobs run at once")
	listen := fs.String("listen", "", "address to serve /healthz, /readyz and /metrics on (default: none)")
	if err := parseSettings(fs, args); err != nil {
		return err
	}
	if jf.allowPath == "" || fs.NArg() != 0 {
		fs.Usage()
		return exitError{2}
	}
	if *jf.database == "" {
		return errors.New("worker: --database (or PYSMOKE_DATABASE) must name the service's Postgres database")
	}
	if jf.workers < 1 {
		return fmt.Errorf("worker: --workers %d: a worker runs at least one job at once", jf.workers)
	}
	opts, err := jf.options(ctx, stderr)
	if err != nil {
		return err
	}
	opts.JobsOnly = true
	svc, err := service.New(ctx, opts)
	if err != nil {
		return err
	}
	defer svc.Close()
	var ln net.Listener
	if *listen != "" {
		if ln, err = net.Listen("tcp", *listen); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	return svc.Run(ctx, ln)
}
