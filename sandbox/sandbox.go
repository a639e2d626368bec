// Package sandbox runs commands from strangers sealed off from the machine:
// one Sandbox per job (one release on one interpreter), made fresh, holding
// only the interpreter, the toolchain and the job's scratch, with no
// network, no privileges and limits on every step.
//
// One contract (Backend, Sandbox, Spec, Limits, Command, ExecResult), two
// real backends behind it, each a file set of its own: Namespace
// (bubblewrap over Linux namespaces, cgroup v1 or v2 limits, a seccomp
// filter; namespace.go, cgroup*.go, seccomp.go) and Docker (one container
// per job through the Engine API; docker*.go), with what both share
// (supervise.go, helpers.go); and Fake, which seals nothing, for unit tests
// of the sandbox's consumers and as the benchmarks' bare baseline. What the
// backends must withstand, and which tests show it: docs/sandbox.md.
package sandbox

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
// default, bubblewrap over Linux namespaces with cgroup limits) and Docker
// (one container per job, through the Docker Engine API). Call order:
// Available, then any number of Open from any goroutine; each Sandbox is
// used by one goroutine (Close excepted, which may come from another) and
// must be closed.
//
// Every backend gives the same guarantees (docs/sandbox.md): a root
// holding only /usr, the interpreters (read-only) and the scratch; no
// network but loopback; an unprivileged uid with no capabilities and
// no_new_privs; the environment exactly Command.Env; the limits of
// Spec.Limits; timeouts supervised from outside; every process of a step
// ended when Exec returns; a fresh /tmp.
type Backend interface {
	// Name is the backend's name as users select it ("namespace").
	Name() string
	// Available returns nil when the backend can run here, else an error
	// saying exactly what is missing and how to get it.
	Available(ctx context.Context) error
	// NewScratch makes a job's scratch in parent, as the backend's
	// sandboxes need it: handed to their identity, and on a filesystem
	// capped at lim's Disk and DiskFiles where the backend can make one.
	// The caller fills it (through its Root), opens the sandbox on it,
	// and closes it after the sandbox.
	NewScratch(parent string, lim Limits) (*Scratch, error)
	// Open makes a fresh sandbox for one job (one release on one
	// interpreter). Nothing of an earlier sandbox is visible in it.
	Open(ctx context.Context, spec Spec) (Sandbox, error)
}

// Spec describes what a job's sandbox holds.
type Spec struct {
	// Scratch is the job's scratch, made by the backend's NewScratch,
	// that appears read-write at BuildRoot. It is the only writable place
	// besides a private /tmp.
	Scratch *Scratch
	// ReadOnly are host paths (interpreter prefixes, toolchains) mounted
	// read-only at their own path: pyenv builds are shared libraries with an
	// rpath, so they must live at the path they were built for.
	ReadOnly []string
	// Limits cap the resources of each step; zero fields take the
	// defaults of DefaultLimits.
	Limits Limits
}

// Limits cap what one step may use. A step that hits one is ended and its
// ExecResult says which (LimitHit).
type Limits struct {
	// Memory is the memory limit in bytes (cgroup memory.max, or
	// memory.limit_in_bytes on v1); default 2 GiB.
	Memory int64
	// Pids caps the processes and threads alive at once (pids.max);
	// default 512.
	Pids int64
	// CPUs is the CPU bandwidth in cores (cpu.max quota); default 1.
	CPUs float64
	// Tmp is the size of the private /tmp tmpfs in bytes; default 256 MiB.
	Tmp int64
	// Disk caps the bytes (allocated blocks) and files the scratch may
	// hold: the size of its filesystem where the backend makes one (the
	// kernel answers ENOSPC), else checked from outside while a step
	// runs; default 2 GiB.
	Disk int64
	// DiskFiles caps the number of entries in the scratch; default 200,000.
	DiskFiles int
	// Output caps the bytes a step may print before it is ended (the log
	// keeps only Command.LogLimit of them); default 64 MiB.
	Output int64
}

// DefaultLimits are the limits used for the zero fields of Spec.Limits.
var DefaultLimits = Limits{
	Memory: 2 << 30, Pids: 512, CPUs: 1, Tmp: 256 << 20,
	Disk: 2 << 30, DiskFiles: 200000, Output: 64 << 20,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.Memory > 0 {
		d.Memory = l.Memory
	}
	if l.Pids > 0 {
		d.Pids = l.Pids
	}
	if l.CPUs > 0 {
		d.CPUs = l.CPUs
	}
	if l.Tmp > 0 {
		d.Tmp = l.Tmp
	}
	if l.Disk > 0 {
		d.Disk = l.Disk
	}
	if l.DiskFiles > 0 {
		d.DiskFiles = l.DiskFiles
	}
	if l.Output > 0 {
		d.Output = l.Output
	}
	return d
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
	// NoOutputTimeout ends the step when it prints nothing for this long
	// (a hang); zero means no such limit.
	NoOutputTimeout time.Duration
}

// What ended a step early, in ExecResult.LimitHit.
const (
	LimitTimeout  = "timeout"   // Command.Timeout passed
	LimitNoOutput = "no-output" // nothing printed for Command.NoOutputTimeout
	LimitMemory   = "memory"    // the memory limit's OOM killer fired
	LimitDisk     = "disk"      // the scratch outgrew Limits.Disk or DiskFiles
	LimitLogSize  = "log-size"  // the step printed more than Limits.Output
	LimitPids     = "pids"      // a fork failed on Limits.Pids
)

// ExecResult is what a command did. A command that ran and failed is a
// result, not an error.
type ExecResult struct {
	ExitCode     int // -1 when killed by a signal
	Log          []byte
	LogTruncated bool
	// TimedOut is true when the wall-clock or no-output limit ended the
	// step (LimitHit then says which).
	TimedOut bool
	Duration time.Duration
	// LimitHit names the limit that ended or broke the step (the Limit*
	// constants); empty when none did. LimitMemory is set when the
	// kernel's OOM killer killed a process of the step, even when the step
	// then exited on its own.
	LimitHit string
	// MemoryPeak is the step's peak memory use in bytes, when the backend
	// can tell (0 otherwise).
	MemoryPeak int64
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
