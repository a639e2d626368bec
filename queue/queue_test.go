package queue

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/store"
)

// TestBuildsRunOnceEach pushes builds through River on a real store,
// twice over, and checks each is handled exactly once.
func TestBuildsRunOnceEach(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	var mu sync.Mutex
	seen := map[Build]int{}
	done := make(chan struct{}, 100)
	q, err := Open(ctx, st.DB(), st.Dialect(), Options{Workers: 2, Handler: func(ctx context.Context, b Build) error {
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
	q, err := Open(ctx, st.DB(), st.Dialect(), Options{Workers: 1, Handler: func(ctx context.Context, b Build) error {
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

// dialectEnv makes the queue's tests run on Postgres: TestMain runs every
// test on SQLite, then the test binary again with it set.
const dialectEnv = "PYSMOKE_QUEUE_TEST_DIALECT"

// database returns where a test's store goes: a SQLite file, or a Postgres
// database of its own in the Postgres run.
func database(t testing.TB) string {
	t.Helper()
	if os.Getenv(dialectEnv) == store.Postgres {
		return testenv.Postgres(t)
	}
	return filepath.Join(t.TempDir(), "db.sqlite")
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestMain runs every test on SQLite, then again on Postgres (in a child
// process with PYSMOKE_QUEUE_TEST_DIALECT set). With PYSMOKE_QUEUE_CHILD
// set to a database, it is the process TestTakeBackAfterKill kills: its
// queue as worker w1, with a build that never ends, until it is killed.
func TestMain(m *testing.M) {
	db := os.Getenv("PYSMOKE_QUEUE_CHILD")
	if db == "" {
		code := m.Run()
		if os.Getenv(dialectEnv) == "" {
			cmd := exec.Command(os.Args[0], os.Args[1:]...)
			cmd.Env = append(os.Environ(), dialectEnv+"="+store.Postgres)
			cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
			os.Stdout.WriteString("queue: the same tests on Postgres\n")
			if err := cmd.Run(); err != nil && code == 0 {
				code = 1
			}
		}
		os.Exit(code)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		panic(err)
	}
	q, err := Open(ctx, st.DB(), st.Dialect(), Options{Workers: 1, ID: "w1", Handler: func(ctx context.Context, b Build) error {
		select {} // runs until the process is killed
	}})
	if err != nil {
		panic(err)
	}
	if err := q.Start(ctx); err != nil {
		panic(err)
	}
	select {}
}

// A worker killed with SIGKILL mid-build leaves it running in River; the
// next start of a worker of the same name takes it back at once, not
// after River's rescue window (an hour past the timeout), with the
// killed attempt given back, and before a build queued since. Another
// worker's running build is not touched.
func TestTakeBackAfterKill(t *testing.T) {
	ctx := context.Background()
	db := database(t)
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ins, err := Open(ctx, st.DB(), st.Dialect(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	build := Build{Project: "foo", Version: "1.0", SdistFile: "foo-1.0.tar.gz", SdistSHA256: "ab", Python: "3.12"}
	if err := ins.Enqueue(ctx, build); err != nil {
		t.Fatal(err)
	}
	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), "PYSMOKE_QUEUE_CHILD="+db)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if d, _ := ins.Depth(ctx); d["running"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child never ran the build")
		}
		time.Sleep(50 * time.Millisecond)
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	// Another worker's build, running (as far as the table says).
	other := Build{Project: "bar", Version: "1.0", SdistFile: "bar-1.0.tar.gz", SdistSHA256: "cd", Python: "3.12"}
	if err := ins.Enqueue(ctx, other); err != nil {
		t.Fatal(err)
	}
	mark := `UPDATE river_job SET state = 'running', attempt = 1, attempted_by = json_array('w2')
		WHERE json_extract(args, '$.project') = 'bar'`
	if st.Dialect() == store.Postgres {
		mark = `UPDATE river_job SET state = 'running', attempt = 1, attempted_by = ARRAY['w2']
		WHERE args->>'project' = 'bar'`
	}
	if res, err := st.DB().ExecContext(ctx, mark); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("bar's build marked running: %d rows", n)
	}

	// A build queued since, waiting: it goes after the taken-back one.
	later := Build{Project: "baz", Version: "1.0", SdistFile: "baz-1.0.tar.gz", SdistSHA256: "ef", Python: "3.12"}
	if err := ins.Enqueue(ctx, later); err != nil {
		t.Fatal(err)
	}

	ran := make(chan Build, 3)
	started := time.Now()
	q, err := Open(ctx, st.DB(), st.Dialect(), Options{Workers: 1, ID: "w1", Handler: func(ctx context.Context, b Build) error {
		ran <- b
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	select {
	case b := <-ran:
		if b.Project != "foo" || b.Attempt != 1 {
			t.Errorf("taken back: %s, attempt %d; want foo, attempt 1 (the killed one given back)", b.Project, b.Attempt)
		}
		t.Logf("the killed build ran again %s after the start", time.Since(started).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		t.Fatal("the killed build was not taken back")
	}
	select {
	case b := <-ran:
		if b.Project != "baz" {
			t.Errorf("%s ran second; want baz, the build that waited", b.Project)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("baz, the build that waited, never ran")
	}
	select {
	case b := <-ran:
		t.Errorf("%s, another worker's running build, was taken", b.Project)
	case <-time.After(time.Second):
	}
}

// A build cut short by a graceful stop does not spend its attempt: the
// next start runs it again as the same attempt, at once (River's soft
// stop; kept here because the service relies on it), before a build
// queued since; and so when the context the queue was started with ends
// first, as a signal ends the service's.
func TestGracefulStopKeepsTheAttempt(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	started := make(chan int, 1)
	q, err := Open(ctx, st.DB(), st.Dialect(), Options{Workers: 1, ID: "w1", Handler: func(ctx context.Context, b Build) error {
		started <- b.Attempt
		<-ctx.Done()
		return ctx.Err()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(ctx, Build{Project: "foo", Version: "1.0", SdistFile: "foo-1.0.tar.gz", SdistSHA256: "ab", Python: "3.12"}); err != nil {
		t.Fatal(err)
	}
	// The service starts its queue with the context a SIGTERM cancels,
	// before it calls Stop.
	running, stopping := context.WithCancel(ctx)
	if err := q.Start(running); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the build never started")
	}
	stopping()
	// A build queued since, waiting: it goes after the stopped one.
	if err := q.Enqueue(ctx, Build{Project: "baz", Version: "1.0", SdistFile: "baz-1.0.tar.gz", SdistSHA256: "ef", Python: "3.12"}); err != nil {
		t.Fatal(err)
	}
	stopCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := q.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	if d, err := q.Depth(ctx); err != nil || d["available"] != 2 {
		t.Errorf("after the stop: %v, %v; want both builds available", d, err)
	}
	again := make(chan int, 2)
	var order []string
	q2, err := Open(ctx, st.DB(), st.Dialect(), Options{Workers: 1, ID: "w1", Handler: func(ctx context.Context, b Build) error {
		order = append(order, b.Project)
		again <- b.Attempt
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := q2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q2.Stop(ctx)
	select {
	case a := <-again:
		if a != 1 {
			t.Errorf("after a graceful stop the build runs as attempt %d, want 1", a)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the stopped build never ran again")
	}
	select {
	case <-again:
	case <-time.After(30 * time.Second):
		t.Fatal("the build queued since never ran")
	}
	if want := []string{"foo", "baz"}; !slices.Equal(order, want) {
		t.Errorf("ran %v; want %v (the stopped build in its place, first)", order, want)
	}
}

// Drop deletes a project's waiting builds and nothing else: not another
// project's, not one that runs.
func TestDrop(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	q, err := Open(ctx, st.DB(), st.Dialect(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var builds []Build
	for _, p := range []string{"foo", "bar"} {
		for _, py := range []string{"3.11", "3.12"} {
			builds = append(builds, Build{Project: p, Version: "1.0", SdistFile: p + "-1.0.tar.gz", SdistSHA256: "ab", Python: py})
		}
	}
	if err := q.Enqueue(ctx, builds...); err != nil {
		t.Fatal(err)
	}
	// One of foo's builds runs (as far as the table says).
	mark := `UPDATE river_job SET state = 'running' WHERE id = (SELECT MIN(id) FROM river_job WHERE json_extract(args, '$.project') = 'foo')`
	if st.Dialect() == store.Postgres {
		mark = `UPDATE river_job SET state = 'running' WHERE id = (SELECT MIN(id) FROM river_job WHERE args->>'project' = 'foo')`
	}
	if _, err := st.DB().ExecContext(ctx, mark); err != nil {
		t.Fatal(err)
	}
	n, err := q.Drop(ctx, "foo")
	if err != nil || n != 1 {
		t.Fatalf("Drop: %d, %v; want foo's one waiting build", n, err)
	}
	if d, err := q.Depth(ctx); err != nil || d["available"] != 2 || d["running"] != 1 {
		t.Errorf("after the drop: %v, %v; want bar's two waiting and foo's running one", d, err)
	}
}

// TestBacklog: the builds in hand are those waiting or running, and those
// finished since the oldest of them was queued; a build finished before
// that is not counted, and an empty queue has no backlog.
func TestBacklog(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	finished := make(chan string, 10)
	// held and b wait to be let go, so that what the test reads in
	// between stays put.
	release := map[string]chan struct{}{"held": make(chan struct{}), "b": make(chan struct{})}
	q, err := Open(ctx, st.DB(), st.Dialect(), Options{Workers: 1, Handler: func(ctx context.Context, b Build) error {
		if c, ok := release[b.Project]; ok {
			<-c
		}
		finished <- b.Project
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := q.Backlog(ctx, time.Now()); err != nil || b != (Backlog{}) {
		t.Fatalf("empty queue: %+v, %v; want no backlog", b, err)
	}
	build := func(project string) Build {
		return Build{Project: project, Version: "1.0", SdistFile: project + "-1.0.tar.gz", SdistSHA256: "ab", Python: "3.12"}
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	wait := func(want string) {
		t.Helper()
		select {
		case got := <-finished:
			if got != want {
				t.Fatalf("%s finished; want %s", got, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s never finished", want)
		}
	}
	if err := q.Enqueue(ctx, build("old")); err != nil {
		t.Fatal(err)
	}
	wait("old")
	// River records the completion just after the handler returns.
	waitState(t, q, "completed", 1)
	time.Sleep(20 * time.Millisecond) // the next builds are queued after old finished
	queued := time.Now()
	// Queued one by one, so that held is the oldest and runs first.
	for _, p := range []string{"held", "a", "b"} {
		if err := q.Enqueue(ctx, build(p)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := q.Backlog(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if b.Left != 3 || b.Done != 0 || b.Recent != 0 || b.Began.Before(queued.Add(-time.Second)) || b.Began.After(time.Now()) {
		t.Errorf("three queued, old finished before: %+v; want 3 left, none done, begun at %s", b, queued.Format(time.StampMilli))
	}
	close(release["held"])
	wait("held")
	wait("a")
	waitState(t, q, "completed", 3)
	if b, err = q.Backlog(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	// b is left, running; held and a are done (old is not counted: it
	// finished before b was queued).
	if b.Left != 1 || b.Done != 2 || b.Recent != 2 || b.PerMinute() <= 0 || b.Remaining() <= 0 {
		t.Errorf("held and a finished: %+v (%.1f a minute, %s left); want 1 left, 2 done, 2 recent", b, b.PerMinute(), b.Remaining())
	}
	close(release["b"])
	wait("b")
	waitState(t, q, "completed", 4)
	if b, err = q.Backlog(ctx, time.Now()); err != nil || b != (Backlog{}) {
		t.Errorf("all finished: %+v, %v; want no backlog", b, err)
	}
}

// waitState waits until n builds are in state.
func waitState(t *testing.T, q *Queue, state string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if d, _ := q.Depth(context.Background()); d[state] == n {
			return
		}
		if time.Now().After(deadline) {
			d, _ := q.Depth(context.Background())
			t.Fatalf("queue %v; want %d %s", d, n, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOpenAtOnce: processes that start at once on a fresh database (a
// service and its workers) each migrate River's tables without failing
// on another's half-done migration. Four stores, four pools, at once.
// On Postgres in both passes: processes share a database there; a SQLite
// file is one service's.
func TestOpenAtOnce(t *testing.T) {
	ctx := context.Background()
	db := testenv.Postgres(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			st, err := store.Open(ctx, db)
			if err != nil {
				errs <- err
				return
			}
			defer st.Close()
			_, err = Open(ctx, st.DB(), st.Dialect(), Options{})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
