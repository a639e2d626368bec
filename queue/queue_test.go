package queue

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/store"
)

// TestBuildsRunOnceEach pushes builds through River on a real SQLite store,
// twice over, and checks each is handled exactly once.
func TestBuildsRunOnceEach(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var mu sync.Mutex
	seen := map[Build]int{}
	done := make(chan struct{}, 100)
	q, err := OpenSQLite(ctx, st.DB(), Options{Workers: 2, Handler: func(ctx context.Context, b Build) error {
		mu.Lock()
		seen[b]++
		mu.Unlock()
		done <- struct{}{}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	var builds []Build
	for _, py := range []string{"2.7", "3.11", "3.12"} {
		builds = append(builds, Build{Project: "foo", Version: "1.0", SdistFile: "foo-1.0.tar.gz", SdistSHA256: "ab", Python: py})
	}
	// Enqueued twice before the workers start: unique jobs collapse.
	if err := q.Enqueue(ctx, builds...); err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(ctx, builds...); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	for range builds {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("builds not handled")
		}
	}
	select {
	case <-done:
		t.Fatal("a build was handled twice")
	case <-time.After(500 * time.Millisecond):
	}
	mu.Lock()
	defer mu.Unlock()
	for _, b := range builds {
		if seen[b] != 1 {
			t.Errorf("%v handled %d times", b, seen[b])
		}
	}
}
