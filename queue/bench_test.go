package queue

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/store"
)

// BenchmarkQueueOverhead measures what the queue itself costs a build, on
// the database the tests run on (SQLite, then Postgres in TestMain's
// child): the time from Enqueue to the handler's start and from the
// handler's return to River's record of the completion, with builds that
// do nothing, one worker, the service's poll interval. Two shapes:
//
//   - one: a build queued while the queue is idle, waited for, 20 times:
//     what a lone new release waits before its first step;
//   - backlog: 100 builds queued at once (a backfill): the whole time
//     over 100, the queue's share of each build of a backfill.
//
// Run with `make bench` (PYSMOKE_BENCH_QUEUE=1); docs/benchmarks.md sets
// the figures against a build's own time.
func BenchmarkQueueOverhead(b *testing.B) {
	if os.Getenv("PYSMOKE_BENCH_QUEUE") == "" {
		b.Skip("set PYSMOKE_BENCH_QUEUE=1 (make bench does)")
	}
	for range b.N {
		b.Run("one", func(b *testing.B) { benchQueue(b, 20, 1) })
		b.Run("backlog", func(b *testing.B) { benchQueue(b, 1, 100) })
	}
}

// benchQueue queues rounds batches of size builds, each once the one
// before completed, and reports the mean time per build from its
// Enqueue to its completion recorded.
func benchQueue(b *testing.B, rounds, size int) {
	ctx := context.Background()
	st, err := store.Open(ctx, database(b))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ran := make(chan struct{}, size)
	q, err := Open(ctx, st.DB(), st.Dialect(), Options{Workers: 1, ID: "bench", Handler: func(ctx context.Context, _ Build) error {
		ran <- struct{}{}
		return nil
	}})
	if err != nil {
		b.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer q.Stop(ctx)
	var total time.Duration
	n := 0
	for r := range rounds {
		builds := make([]Build, size)
		for i := range builds {
			n++
			builds[i] = Build{Project: fmt.Sprintf("p%d", n), Version: "1.0", SdistFile: "p-1.0.tar.gz", SdistSHA256: "ab", Python: "3.12"}
		}
		start := time.Now()
		if err := q.Enqueue(ctx, builds...); err != nil {
			b.Fatal(err)
		}
		for range size {
			<-ran
		}
		// Completed as River records it (its completer batches).
		for {
			d, err := q.Depth(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if d["completed"] == (r+1)*size {
				break
			}
			time.Sleep(time.Millisecond)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(rounds*size), "ms/build")
	b.ReportMetric(0, "ns/op")
	b.Logf("%s, %d × %d builds: %.1f ms a build", st.Dialect(), rounds, size, float64(total.Microseconds())/1000/float64(rounds*size))
}
