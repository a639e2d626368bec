package service_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// queueSettles scrapes until River has recorded the service's one job
// complete (its completer writes shortly after the handler returns) and
// returns that scrape.
func queueSettles(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := scrape(t, h)
		if m[`pysmoke_queue_jobs{state="completed"}`] == 1 && m[`pysmoke_queue_jobs{state="running"}`] == 0 {
			return m
		}
		if time.Now().After(deadline) {
			t.Errorf("the queue's metrics never showed the job completed: completed %v, running %v",
				m[`pysmoke_queue_jobs{state="completed"}`], m[`pysmoke_queue_jobs{state="running"}`])
			return m
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// scrape reads /metrics as Prometheus would and returns each sample's
// value by its series ("name{label=\"value\",...}" as written).
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s\n%s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// checkMetricsMoved checks that the documented series moved from before a
// service ran to after it ran one job (smokegood on 3.12, which passes,
// in the namespace sandbox).
func checkMetricsMoved(t *testing.T, before, after map[string]float64) {
	t.Helper()
	for _, series := range []string{
		`pysmoke_queue_jobs{state="available"}`, `pysmoke_queue_jobs{state="running"}`,
		`pysmoke_index_requests_total`, `pysmoke_index_errors_total`, `pysmoke_artifacts_bytes`,
	} {
		if _, ok := before[series]; !ok {
			t.Errorf("before any work, /metrics has no %s", series)
		}
	}
	if before[`pysmoke_index_requests_total`] != 0 || before[`pysmoke_artifacts_bytes`] != 0 {
		t.Errorf("before any work: %v requests, %v bytes of artifacts", before[`pysmoke_index_requests_total`], before[`pysmoke_artifacts_bytes`])
	}
	moved := []struct {
		series string
		min    float64
	}{
		{`pysmoke_job_duration_seconds_count{backend="namespace",python="3.12",status="passed"}`, 1},
		{`pysmoke_step_duration_seconds_count{backend="namespace",python="3.12",status="passed",step="sdist"}`, 1},
		{`pysmoke_step_duration_seconds_count{backend="namespace",python="3.12",status="passed",step="tests"}`, 1},
		{`pysmoke_index_requests_total`, 2}, // the project's page, its sdist
		{`pysmoke_index_downloads_total`, 1},
		{`pysmoke_artifacts_bytes`, 1},
		{`pysmoke_artifacts_files`, 1},
	}
	for _, m := range moved {
		if got := after[m.series]; got < m.min || got <= before[m.series] {

			t.Errorf("%s: %v before, %v after one job; want it to grow to %v or more", m.series, before[m.series], got, m.min)
		}
	}
	if after[`pysmoke_job_duration_seconds_sum{backend="namespace",python="3.12",status="passed"}`] <= 0 {
		t.Errorf("the job took no time")
	}
	for series, v := range after {
		if strings.HasPrefix(series, "pysmoke_sandbox_failures_total") && v > 0 {
			t.Errorf("%s = %v after a job that passed", series, v)
		}
	}
}
