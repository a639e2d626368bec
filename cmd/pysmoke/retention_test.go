package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/artifacts"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/store"
)

// pysmoke retention says what it would free, frees nothing, then with
// --apply (and a reason) frees exactly that and records who and why. foo
// has four releases, each run once with its own wheel and log kept: with
// the three latest kept, 1.0's wheel and whole log go (the log's tail
// stays); a wheel no run recorded yet but put a minute ago (a running
// job's) stays.
func TestRetentionCommand(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(data, "pysmoke.db"))
	if err != nil {
		t.Fatal(err)
	}
	arts, err := artifacts.Open(filepath.Join(data, "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	put := func(content string, when time.Time) string {
		sum, _, err := arts.Put(strings.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := arts.Path(sum)
		os.Chtimes(p, when, when)
		return sum
	}
	sums := map[string]string{}
	for _, v := range []string{"1.0", "1.1", "1.2", "1.3"} {
		if _, err := st.AddRelease(ctx, store.Release{Project: "foo", Version: v, DisplayName: "foo"}); err != nil {
			t.Fatal(err)
		}
		sums[v] = put("the wheel of foo "+v, old)
		c := store.Cell{Project: "foo", Version: v, Python: "3.12", Status: outcome.Passed,
			Steps: []store.Step{{Name: "wheel", Status: outcome.Passed, Artifacts: []store.Artifact{{Path: "foo.whl", SHA256: sums[v]}}}}}
		if err := st.SaveCell(ctx, c, map[string][]byte{"wheel": []byte("building the wheel of foo " + v + "\n")}); err != nil {
			t.Fatal(err)
		}
	}
	// The whole log retention drops: 1.0's, compressed as the store keeps it.
	oldLog, err := st.StepLog(ctx, "foo", "1.0", "3.12", "wheel", true)
	if err != nil {
		t.Fatal(err)
	}
	logGone := len(oldLog.Gzip)
	running := put("a running job's wheel", time.Now().Add(-time.Minute))
	st.Close()
	gone := int64(len("the wheel of foo 1.0"))
	kept := int64(len("the wheel of foo 1.1")*3 + len("a running job's wheel"))

	var out, errOut bytes.Buffer
	if err := dispatch(ctx, []string{"retention", "--data", data}, &out, &errOut); err != nil {
		t.Fatalf("retention: %v %s", err, errOut.String())
	}
	if want := fmt.Sprintf("would free 1 files (%d bytes); 4 files (%d bytes) stay\n", gone, kept) +
		fmt.Sprintf("retention (the whole logs of each project's 3 latest releases kept, the others' last 64 KiB): would free 1 whole logs (%d bytes compressed)\n", logGone); !strings.HasSuffix(out.String(), want) {
		t.Errorf("retention said %q, want it to end %q", out.String(), want)
	}
	if _, err := arts.Path(sums["1.0"]); err != nil {
		t.Errorf("a look freed 1.0's wheel: %v", err)
	}
	if err := dispatch(ctx, []string{"retention", "--data", data, "--apply"}, &out, &errOut); err == nil {
		t.Errorf("--apply without a reason was done")
	}
	out.Reset()
	if err := dispatch(ctx, []string{"retention", "--data", data, "--apply", "--reason", "the disk is full", "--by", "ana@ci"}, &out, &errOut); err != nil {
		t.Fatalf("retention --apply: %v %s", err, errOut.String())
	}
	if want := fmt.Sprintf("freed 1 files (%d bytes); 4 files (%d bytes) stay\n", gone, kept) +
		fmt.Sprintf("retention (the whole logs of each project's 3 latest releases kept, the others' last 64 KiB): freed 1 whole logs (%d bytes compressed)\n", logGone); !strings.HasSuffix(out.String(), want) {
		t.Errorf("retention --apply said %q, want it to end %q", out.String(), want)
	}
	if _, err := arts.Path(sums["1.0"]); err == nil {
		t.Errorf("1.0's wheel is still there")
	}
	for _, sum := range []string{sums["1.1"], sums["1.2"], sums["1.3"], running} {
		if _, err := arts.Path(sum); err != nil {
			t.Errorf("%s went: %v", sum, err)
		}
	}
	st, err = store.Open(ctx, filepath.Join(data, "pysmoke.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if l, err := st.StepLog(ctx, "foo", "1.0", "3.12", "wheel", true); err != nil || !l.Dropped || string(l.Tail) != "building the wheel of foo 1.0\n" {
		t.Errorf("1.0's log after retention: %+v, %v; want its tail only", l, err)
	}
	if l, err := st.StepLog(ctx, "foo", "1.1", "3.12", "wheel", true); err != nil || l.Dropped || l.Gzip == nil {
		t.Errorf("1.1's log after retention: %+v, %v; want it whole", l, err)
	}
	acts, err := st.Actions(ctx, "")
	if err != nil || len(acts) != 1 || acts[0].Action != "retention" || acts[0].Actor != "ana@ci" || acts[0].Reason != "the disk is full" ||
		!strings.Contains(acts[0].Detail, "freed 1 file (") || !strings.Contains(acts[0].Detail, "dropped 1 whole log (") {
		t.Errorf("the service's actions: %+v, %v", acts, err)
	}
}
