package queue

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/store"
)

// TestBuildsRunOnceEach pushes builds through River on a real SQLite store,
// twice over, and checks each is handled exactly once.
func TestBuildsRunOnceEach(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	var mu sync.Mutex
	seen := map[Build]int{}
	done := make(chan struct{}, 100)
	q, err := OpenSQLite(ctx, st.DB(), Options{Workers: 2, Handler: func(ctx context.Context, b Build) error {
		mu.Lock()
		defer mu.Unlock()
		if b.Attempt != 1 {
			t.Errorf("%v: attempt %d, want 1", b, b.Attempt)
		}
		b.Attempt = 0
		seen[b]++
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
	// Queued again for another cause while waiting: still once.
	again := append([]Build(nil), builds...)
	for i := range again {
		again[i].Cause = outcome.CauseProvenance
	}
	if err := q.Enqueue(ctx, again...); err != nil {
		t.Fatal(err)
	}
	// Three waiting, nothing else.
	if d, err := q.Depth(ctx); err != nil || len(d) != 1 || d["available"] != 3 {
		t.Errorf("depth before the workers start: %v, %v", d, err)
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
	// All three done: none waits.
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := q.Depth(ctx)
		if err == nil && d["completed"] == 3 && d["available"] == 0 && d["running"] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("depth after the builds: %v, %v", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A build whose handler fails is tried again, and the handler is told
// which attempt it runs: the service records a retry as such.
func TestRetryCountsAttempts(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	attempts := make(chan int, 10)
	q, err := OpenSQLite(ctx, st.DB(), Options{Workers: 1, Handler: func(ctx context.Context, b Build) error {
		attempts <- b.Attempt
		if b.Attempt == 1 {
			return errors.New("the store failed")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(ctx, Build{Project: "foo", Version: "1.0", SdistFile: "foo-1.0.tar.gz", SdistSHA256: "ab", Python: "3.12"}); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	for _, want := range []int{1, 2} {
		select {
		case got := <-attempts:
			if got != want {
				t.Fatalf("attempt %d, want %d", got, want)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("attempt %d never ran", want)
		}
	}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
