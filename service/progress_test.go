package service_test

import (
	"context"
	"net"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/crawler"
	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/service"
)

// TestProgress: a backfill of three projects, one build at a time, on the
// real sandbox. While it runs, the log says every ProgressEvery how many
// of the three builds are done, with the pace and the time left once
// there is a pace, and the overview says it too; when all are done the
// log says so once, and the overview, within its 10 s by the clock, no
// longer speaks of builds done.
func TestProgress(t *testing.T) {
	tc := testenv.Toolchain(t)
	w := newWorld(t, map[string]string{
		"proga": project(t, "proga", "        pass\n"),
		"progb": project(t, "progb", "        pass\n"),
		"progc": project(t, "progc", "        pass\n"),
	})
	var logs testenv.LogBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The first reads at once, then none: the builds are the work.
	svc := w.service(ctx, tc, &logs, func(o *service.Options) {
		o.Crawl = crawler.Options{Interval: time.Minute, HintInterval: -1}
		o.ProgressEvery = 300 * time.Millisecond
	})
	defer svc.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- svc.Run(ctx, ln) }()
	overview := func() string {
		rec := httptest.NewRecorder()
		svc.Routes().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		return rec.Body.String()
	}
	midway := regexp.MustCompile(`[12] of 3 builds done, [0-9.]+ a minute, about [0-9.]+ (seconds|minutes) left`)
	var sawOverview string
	deadline := time.Now().Add(4 * time.Minute)
	for !strings.Contains(logs.String(), "the work in hand is done") {
		if m := midway.FindString(overview()); m != "" && sawOverview == "" {
			sawOverview = m
		}
		if time.Now().After(deadline) {
			t.Fatalf("the backfill did not end; log:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if sawOverview == "" {
		t.Errorf("the overview never said how far the builds were")
	} else {
		t.Logf("the overview said: %s", sawOverview)
	}
	logged := regexp.MustCompile(`msg=progress builds="`+midway.String()+`"`).FindAllString(logs.String(), -1)
	if len(logged) == 0 {
		t.Errorf("the log never said how far the builds were:\n%s", logs.String())
	} else {
		t.Logf("the log said %d times, first: %s", len(logged), logged[0])
	}
	if n := strings.Count(logs.String(), "the work in hand is done"); n != 1 {
		t.Errorf("the end of the work said %d times", n)
	}
	time.Sleep(time.Second) // more ticks of the progress log, with nothing in hand
	if n := strings.Count(logs.String(), "the work in hand is done"); n != 1 {
		t.Errorf("the end of the work said %d times, idle", n)
	}
	// The overview is kept for up to 10 s by the clock (report's memory)
	// when no result was stored since: River records the last completion
	// after the last result.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		body := overview()
		if !strings.Contains(body, "builds done") && strings.Contains(body, "nothing to build") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the overview of an idle service still speaks of builds done 30 s later")
			break
		}
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Fatalf("service: %v", err)
	}
}
