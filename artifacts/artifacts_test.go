package artifacts

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestPutKeepsIdenticalFilesOnce(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	wheel := strings.Repeat("the same universal wheel ", 100)
	want := sha256.Sum256([]byte(wheel))
	for range 9 {
		sum, n, err := s.Put(strings.NewReader(wheel))
		if err != nil || sum != hex.EncodeToString(want[:]) || n != int64(len(wheel)) {
			t.Fatalf("Put = %s, %d, %v", sum, n, err)
		}
	}
	if _, _, err := s.Put(strings.NewReader("another")); err != nil {
		t.Fatal(err)
	}
	u, err := s.Usage()
	if err != nil || u.Files != 2 || u.Bytes != int64(len(wheel)+len("another")) {
		t.Errorf("Usage = %+v, %v; want 2 files of %d bytes", u, err, len(wheel)+len("another"))
	}
	p, err := s.Path(hex.EncodeToString(want[:]))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != wheel {
		t.Errorf("kept file: %v", err)
	}
	if _, err := s.Path(strings.Repeat("0", 64)); !errors.Is(err, ErrNotKept) {
		t.Errorf("Path of a file not kept: %v", err)
	}
	for _, bad := range []string{"../../etc/passwd", "AB", strings.Repeat("g", 64)} {
		if _, err := s.Path(bad); err == nil {
			t.Errorf("Path(%q): no error", bad)
		}
	}
}
