package allowlist

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	in := `# projects pysmoke watches
Foo.Bar
zope_interface   # trailing comment

bad/name
foo-bar
two words
`
	l, bad, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.Names(), []string{"foo-bar", "zope-interface"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names = %v, want %v", got, want)
	}
	var lines []int
	for _, b := range bad {
		lines = append(lines, b.Line)
	}
	if want := []int{5, 6, 7}; !reflect.DeepEqual(lines, want) {
		t.Errorf("bad lines = %v, want %v (%v)", lines, want, bad)
	}
	if !l.Contains("FOO_bar") || l.Contains("foo") {
		t.Error("Contains does not normalise")
	}
}

func TestWatcherReloads(t *testing.T) {
	p := filepath.Join(t.TempDir(), "allow.txt")
	if err := os.WriteFile(p, []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := NewWatcher(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Watch(ctx, 10*time.Millisecond)
	// A different size guarantees the change is seen even within one mtime tick.
	if err := os.WriteFile(p, []byte("a\nbee\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !w.List().Contains("bee") {
		if time.Now().After(deadline) {
			t.Fatal("reload not seen")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// An unreadable file keeps the last good list.
	os.Remove(p)
	time.Sleep(30 * time.Millisecond)
	if !w.List().Contains("a") {
		t.Error("lost the list when the file vanished")
	}
}
