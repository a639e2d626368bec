package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What a killed service left under its scratch folder goes at the next
// start: a capped scratch still mounted (with its image), a folder whose
// job made it hostile (a link out, a folder without permissions), and on
// Docker the job's container; a link's target and what is not a job's
// stay.
func TestSweepRemovesWhatAKilledServiceLeft(t *testing.T) {
	d := requireDocker(t)
	parent := filepath.Join(t.TempDir(), "scratch")
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "precious"), []byte("keep"), 0o644)

	// A capped scratch (its own filesystem, root only), never closed.
	capped, err := NewScratch(ScratchOptions{Parent: parent, Capped: os.Geteuid() == 0})
	if err != nil {
		t.Fatal(err)
	}
	root := capped.Root()
	root.Mkdir("locked", 0o755)
	root.Symlink(outside, "out")
	root.WriteFile("locked/f", []byte("x"), 0o644)
	root.Chmod("locked", 0)
	// A container of a job of this folder, never closed.
	docked, err := d.NewScratch(parent, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := d.Open(context.Background(), Spec{Scratch: docked})
	if err != nil {
		t.Fatal(err)
	}
	_ = sb // the service "died": never closed
	if ids, err := d.ContainersUnder(context.Background(), parent); err != nil || len(ids) != 1 {
		t.Fatalf("containers before the sweep: %v, %v", ids, err)
	}
	os.WriteFile(filepath.Join(parent, "not-a-job"), []byte("mine"), 0o600)
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); os.Geteuid() == 0 && !strings.Contains(string(mounts), capped.Dir()) {
		t.Fatalf("the capped scratch is not mounted")
	}

	sw, err := Sweep(context.Background(), d, parent)
	if err != nil {
		t.Fatal(err)
	}
	if sw.Scratches != 2 || sw.Containers != 1 {
		t.Errorf("swept %+v, want 2 scratches and 1 container", sw)
	}
	left, _ := os.ReadDir(parent)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "not-a-job" {
		t.Errorf("left under the scratch folder: %v", names)
	}
	if ids, err := d.ContainersUnder(context.Background(), parent); err != nil || len(ids) != 0 {
		t.Errorf("containers after the sweep: %v, %v", ids, err)
	}
	if b, err := os.ReadFile(filepath.Join(outside, "precious")); err != nil || string(b) != "keep" {
		t.Errorf("a link's target was touched: %q, %v", b, err)
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), parent) {
		t.Errorf("a scratch is still mounted:\n%s", mounts)
	}
}
