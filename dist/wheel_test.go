package dist

import (
	"archive/zip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeZip(t *testing.T, members map[string]string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x-1.0-py3-none-any.whl")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, body := range members {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// TestWheelMetadata: only the METADATA of a top-level .dist-info counts;
// one vendored deeper in the wheel, or in another folder, does not.
func TestWheelMetadata(t *testing.T) {
	p := writeZip(t, map[string]string{
		"x/_vendor/y-2.0.dist-info/METADATA": "Name: y\n",
		"x-1.0.data/METADATA":                "Name: data\n",
		"x-1.0.dist-info/METADATA":           "Name: x\nVersion: 1.0\n",
	})
	b, err := WheelMetadata(p)
	if err != nil || string(b) != "Name: x\nVersion: 1.0\n" {
		t.Errorf("got %q, %v; want x's own METADATA", b, err)
	}
	p = writeZip(t, map[string]string{"x/_vendor/y-2.0.dist-info/METADATA": "Name: y\n"})
	if _, err := WheelMetadata(p); err == nil || !strings.Contains(err.Error(), "has no .dist-info/METADATA") {
		t.Errorf("a wheel without its own METADATA: %v", err)
	}
	if _, err := WheelMetadata(filepath.Join(t.TempDir(), "missing.whl")); err == nil {
		t.Error("a missing file read without error")
	}
}
