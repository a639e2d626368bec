package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Fake is a Backend that seals nothing: it runs every command as a plain
// child process of the caller, on the host, as the caller's user, with
// BuildRoot rewritten to the job's scratch in the command line, the
// working folder and the environment (which is all a real sandbox's mount
// of the scratch does for paths). It keeps the contract's bookkeeping
// (the whole environment is Command.Env, the wall-clock timeout, the log
// cap, every process of a step ended when Exec returns) and none of its
// isolation: no namespaces, no limits but the timeout, the host's network
// and files in reach.
//
// It exists for two things: unit tests of the runner's step logic, which
// then need neither root nor bubblewrap nor Docker (with interpreters the
// test controls), and the benchmarks' baseline, the same commands run
// bare. It says what it is: its Name is "fake", the commands line never
// selects it, and every step's log starts with a line saying the step ran
// unsealed. pysmoke itself never runs package code on it.
type Fake struct{}

var _ Backend = Fake{}

// FakeNotice leads the log of every step run on the Fake backend.
const FakeNotice = "pysmoke: fake sandbox: this step ran as a plain child process on the host, not sealed\n"

// Name implements Backend.
func (Fake) Name() string { return "fake" }

// Available implements Backend: a child process can always be started.
func (Fake) Available(context.Context) error { return nil }

// NewScratch implements Backend: a plain folder, the caller's.
func (Fake) NewScratch(parent string, lim Limits) (*Scratch, error) {
	return NewScratch(ScratchOptions{Parent: parent, Limits: lim})
}

// Open implements Backend.
func (Fake) Open(_ context.Context, spec Spec) (Sandbox, error) {
	if spec.Scratch == nil {
		return nil, errors.New("sandbox: no scratch")
	}
	return &fakeBox{scratch: spec.Scratch.Dir()}, nil
}

type fakeBox struct{ scratch string }

// host rewrites the sandbox's paths to the host's: BuildRoot where it
// starts a path (at the start, or after "=", ":" or a space) and ends a
// component ("/build/env/build" is the scratch's env/build).
func (b *fakeBox) host(s string) string {
	var out strings.Builder
	for {
		i := strings.Index(s, BuildRoot)
		if i < 0 {
			out.WriteString(s)
			return out.String()
		}
		end := i + len(BuildRoot)
		starts := i == 0 || strings.ContainsRune("=: ", rune(s[i-1]))
		ends := end == len(s) || s[end] == '/' || s[end] == ':'
		out.WriteString(s[:i])
		if starts && ends {
			out.WriteString(b.scratch)
		} else {
			out.WriteString(BuildRoot)
		}
		s = s[end:]
	}
}

// Exec implements Sandbox.
func (b *fakeBox) Exec(ctx context.Context, c Command) (ExecResult, error) {
	if len(c.Argv) == 0 {
		return ExecResult{}, errors.New("sandbox: empty command")
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = time.Hour
	}
	argv := make([]string, len(c.Argv))
	for i, a := range c.Argv {
		argv[i] = b.host(a)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = b.host(c.Dir)
	cmd.Env = []string{} // nothing inherited, as in a sandbox
	for _, kv := range c.Env {
		cmd.Env = append(cmd.Env, b.host(kv))
	}
	log := &capWriter{limit: c.LogLimit}
	log.buf.WriteString(FakeNotice)
	cmd.Stdout, cmd.Stderr = log, log
	// A group of its own, so that the step's daemons end with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		// A command that cannot start is the step's failure in a real
		// sandbox too (the shell's 127), not the machinery's.
		fmt.Fprintf(log, "%v\n", err)
		return ExecResult{ExitCode: 127, Log: log.buf.Bytes(), Duration: time.Since(start)}, nil
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var res ExecResult
	var err error
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err = <-done:
	case <-timer.C:
		res.TimedOut, res.LimitHit = true, LimitTimeout
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = <-done
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return ExecResult{}, ctx.Err()
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // what the step left running
	res.Duration = time.Since(start)
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitCode()
	default:
		return res, fmt.Errorf("sandbox: %w", err)
	}
	res.Log, res.LogTruncated = log.buf.Bytes(), log.dropped > 0
	return res, nil
}

// Close implements Sandbox.
func (b *fakeBox) Close() error { return nil }
