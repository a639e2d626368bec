package service

// The service's conversions between its parts' own types, each in one
// place: a release becomes builds for the queue, a build a job for the
// runner, a job's result a cell for the store.

import (
	"encoding/json"
	"time"

	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/queue"
	"github.com/pysmoke/pysmoke/runner"
	"github.com/pysmoke/pysmoke/store"
)

// buildsOf returns a release's builds, one per Python.
func buildsOf(r store.Release, pythons []string) []queue.Build {
	builds := make([]queue.Build, 0, len(pythons))
	for _, py := range pythons {
		builds = append(builds, queue.Build{Project: r.Project, Version: r.Version, SdistFile: r.SdistFile,
			SdistSHA256: r.SdistSHA256, Python: py})
	}
	return builds
}

// cellOf is the store's record of a build's result, and its steps' logs
// by step name.
func cellOf(b queue.Build, in interpreter.Interpreter, res runner.Result) (store.Cell, map[string][]byte) {
	cell := store.Cell{Project: b.Project, Version: b.Version, Python: b.Python, Interpreter: in.Path,
		FullVersion: in.Version, Backend: res.Backend, Status: res.Status, Reason: res.Reason,
		StartedAt: res.Started, FinishedAt: res.Finished, Claims: res.Claims}
	if res.Provenance.Backend != "" {
		// A build this worker could not run has no provenance: it is
		// stale for every worker that can.
		prov, _ := json.Marshal(res.Provenance)
		cell.ProvenanceDigest, cell.Provenance = res.Provenance.Digest(), string(prov)
	}
	for _, p := range res.Dependencies {
		cell.Dependencies = append(cell.Dependencies, store.Dependency{Name: p.Project, Version: p.Version, Filename: p.Filename, SHA256: p.SHA256})
	}
	logs := map[string][]byte{}
	for _, st := range res.Steps {
		cell.Steps = append(cell.Steps, store.Step{Name: st.Name, Status: st.Status, Reason: st.Reason, Detail: st.Detail,
			ExitCode: st.ExitCode, Duration: st.Duration, LogTruncated: st.LogTruncated, Artifacts: storeArtifacts(st.Artifacts),
			MemoryPeak: st.MemoryPeak})
		logs[st.Name] = st.Log
	}
	return cell, logs
}

func storeArtifacts(arts []outcome.Artifact) []store.Artifact {
	var out []store.Artifact
	for _, a := range arts {
		sa := store.Artifact{Path: a.Path, Size: a.Size, SHA256: a.SHA256, MembersError: a.MembersError}
		for _, m := range a.Members {
			sa.Members = append(sa.Members, store.Member{Path: m.Path, Size: m.Size, Mode: m.Mode, SHA256: m.SHA256, Link: m.Link})
		}
		out = append(out, sa)
	}
	return out
}

// notOnThisWorker is the result of a build for a Python this service does
// not have (queued by one with other interpreters): the machinery's.
func notOnThisWorker(python string) runner.Result {
	now := time.Now()
	return runner.Result{Status: outcome.Machinery, Reason: outcome.ReasonToolchainMissing, Started: now, Finished: now,
		Steps: []runner.StepResult{{Name: outcome.StepUnpack, Status: outcome.Machinery, Reason: outcome.ReasonToolchainMissing,
			Detail: "no Python " + python + " on this worker"}}}
}

// skipped is the result of a build the allowlist skips on this Python,
// with its reason.
func skipped(python, why string, r *runner.Runner, in interpreter.Interpreter) runner.Result {
	now := time.Now()
	d := "skipped on Python " + python + " by the allowlist: " + why
	res := runner.Result{Status: outcome.NotAvailable, Reason: outcome.ReasonSkipped, Started: now, Finished: now,
		Backend: r.Backend(), Provenance: r.Provenance(in)}
	for _, name := range outcome.Steps {
		res.Steps = append(res.Steps, runner.StepResult{Name: name, Status: outcome.NotAvailable, Reason: outcome.ReasonSkipped, Detail: d, Log: []byte(d)})
	}
	return res
}
