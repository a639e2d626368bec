package artifacts

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
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

// Prune drops what retention does not want, except files put lately (a
// run still going has not recorded them); a Put of a file kept already
// counts as lately.
func TestPrune(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(content string) string {
		t.Helper()
		sum, _, err := s.Put(strings.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	age := func(sum string) {
		t.Helper()
		p, err := s.Path(sum)
		if err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-48 * time.Hour)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	wanted, unwanted, recent, reput := put("wanted wheel"), put("a dropped release's wheel"), put("a running job's wheel"), put("put again")
	for _, sum := range []string{wanted, unwanted, reput} {
		age(sum)
	}
	put("put again") // by a job running now
	// Unused says what Prune would free, and frees nothing.
	would, err := s.Unused(func(sum string) bool { return sum == wanted }, time.Now().Add(-24*time.Hour))
	if err != nil || would.Files != 1 || would.Bytes != int64(len("a dropped release's wheel")) {
		t.Fatalf("Unused: %+v, %v", would, err)
	}
	if _, err := s.Path(unwanted); err != nil {
		t.Fatalf("Unused removed %s: %v", unwanted, err)
	}
	freed, err := s.Prune(func(sum string) bool { return sum == wanted }, time.Now().Add(-24*time.Hour))
	if err != nil || freed.Files != 1 || freed.Bytes != int64(len("a dropped release's wheel")) {
		t.Fatalf("Prune freed %+v, %v; want the dropped release's wheel only", freed, err)
	}
	for sum, kept := range map[string]bool{wanted: true, unwanted: false, recent: true, reput: true} {
		if _, err := s.Path(sum); (err == nil) != kept {
			t.Errorf("%s kept=%v after Prune, want %v", sum[:8], err == nil, kept)
		}
	}
	if u, _ := s.Usage(); u.Files != 3 {
		t.Errorf("Usage after Prune %+v, want 3 files", u)
	}
}
