package runner

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// BuildRoot is where a sandbox's scratch directory appears inside it. It is
// the same in every backend so that build paths, and so outputs, do not vary
// with the backend or the job.
const BuildRoot = "/build"

// Backend makes sandboxes. Implementations: Namespace (the embedded
// default, bubblewrap over Linux namespaces). Call order: Available, then
// any number of Open from any goroutine; each Sandbox is used by one
// goroutine and must be closed.
type Backend interface {
	// Name is the backend's name as users select it ("namespace").
	Name() string
	// Available returns nil when the backend can run here, else an error
	// saying exactly what is missing and how to get it.
	Available(ctx context.Context) error
	// Open makes a fresh sandbox for one job (one release on one
	// interpreter). Nothing of an earlier sandbox is visible in it.
	Open(ctx context.Context, spec Spec) (Sandbox, error)
}

// Spec describes what a job's sandbox holds.
type Spec struct {
	// Scratch is a host directory, empty and private to this job, that
	// appears read-write at BuildRoot. It is the only writable place besides
	// a private /tmp.
	Scratch string
	// ReadOnly are host paths (interpreter prefixes, toolchains) mounted
	// read-only at their own path: pyenv builds are shared libraries with an
	// rpath, so they must live at the path they were built for.
	ReadOnly []string
}

// Command is one process run to completion inside a sandbox.
type Command struct {
	Argv []string
	Dir  string   // working directory inside the sandbox
	Env  []string // the whole environment: nothing is inherited
	// Timeout is the wall-clock limit, enforced from outside the sandbox.
	Timeout time.Duration
	// LogLimit caps the bytes of combined stdout and stderr kept.
	LogLimit int64
}

// ExecResult is what a command did. A command that ran and failed is a
// result, not an error.
type ExecResult struct {
	ExitCode     int // -1 when killed by a signal
	Log          []byte
	LogTruncated bool
	TimedOut     bool
	Duration     time.Duration
}

// Sandbox is one job's sealed environment.
type Sandbox interface {
	// Exec runs cmd and waits for it and every process it started. The
	// error is non-nil only when the sandbox itself failed (the machinery's
	// fault); the command's own failure is in ExecResult.
	Exec(ctx context.Context, cmd Command) (ExecResult, error)
	// Close ends every process of the sandbox and releases it. The caller
	// removes the scratch directory.
	Close() error
}

// Select picks a backend by name, or with "auto" the first of backends
// that is available, and says why it chose it. When none can run, the
// error lists what each one is missing.
func Select(ctx context.Context, name string, backends ...Backend) (Backend, string, error) {
	var missing []string
	for _, b := range backends {
		if name != "auto" && b.Name() != name {
			continue
		}
		err := b.Available(ctx)
		if err == nil {
			if name == "auto" {
				why := "the first available backend"
				if len(missing) > 0 {
					why += " (" + strings.Join(missing, "; ") + ")"
				}
				return b, why, nil
			}
			return b, "asked for by name", nil
		}
		missing = append(missing, b.Name()+": "+err.Error())
	}
	if len(missing) == 0 {
		var names []string
		for _, b := range backends {
			names = append(names, b.Name())
		}
		return nil, "", fmt.Errorf("unknown sandbox %q (choose auto or one of: %s)", name, strings.Join(names, ", "))
	}
	return nil, "", fmt.Errorf("no sandbox can run here: %s", strings.Join(missing, "; "))
}
