package runner

import (
	"testing"

	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/sandbox"
)

// TestProvenanceNamesTheImage: a cell made in another image is another
// cell, so the image is part of the provenance digest.
func TestProvenanceNamesTheImage(t *testing.T) {
	in := interpreter.Interpreter{Path: "/nonexistent/bin/python3", Prefix: "/nonexistent", Version: "3.12.1", Minor: "3.12"}
	ns := New(Options{Backend: &sandbox.Namespace{}}).Provenance(in)
	if ns.Image != "" {
		t.Errorf("namespace provenance names an image: %q", ns.Image)
	}
	own := New(Options{Backend: &sandbox.Docker{}}).Provenance(in)
	if own.Image != sandbox.DefaultImage() {
		t.Errorf("docker provenance image %q, want %q", own.Image, sandbox.DefaultImage())
	}
	official := New(Options{Backend: &sandbox.Docker{Image: "python:3.12"}}).Provenance(in)
	if official.Image != "python:3.12" {
		t.Errorf("image %q, want python:3.12", official.Image)
	}
	if own.Digest() == official.Digest() || own.Digest() == ns.Digest() {
		t.Error("the digest does not tell the images and backends apart")
	}
}
