package service

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pysmoke/pysmoke/artifacts"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/runner"
)

// The service's metrics, served at /metrics in Prometheus's text format
// (README, "Metrics", lists them). What a job did is counted as it ends;
// what can be read off the parts (the queue, the index client, the
// artifact store) is read when scraped.
type metrics struct {
	parts    *partsCollector
	reg      *prometheus.Registry
	jobs     *prometheus.HistogramVec
	steps    *prometheus.HistogramVec
	failures *prometheus.CounterVec
}

// durationBuckets span a step of a tenth of a second to a job of an hour.
var durationBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 60, 120, 300, 600, 1200, 3600}

func newMetrics(s *Service) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		jobs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pysmoke_job_duration_seconds",
			Help:    "Jobs (one release on one interpreter) run by this process, by Python, sandbox backend and the cell's status.",
			Buckets: durationBuckets,
		}, []string{"python", "backend", "status"}),
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pysmoke_step_duration_seconds",
			Help:    "Steps run by this process's jobs, by Python, sandbox backend, step and status.",
			Buckets: durationBuckets,
		}, []string{"python", "backend", "step", "status"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pysmoke_sandbox_failures_total",
			Help: "Steps that ended with the machinery's error, by sandbox backend and reason (sandbox-error: the sandbox itself failed).",
		}, []string{"backend", "reason"}),
	}
	m.parts = &partsCollector{s: s}
	m.reg.MustRegister(m.jobs, m.steps, m.failures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), m.parts)
	return m
}

// job counts a job that ended with a result.
func (m *metrics) job(python string, res runner.Result) {
	backend := res.Backend
	if backend == "" {
		backend = "none"
	}
	m.jobs.WithLabelValues(python, backend, string(res.Status)).Observe(res.Finished.Sub(res.Started).Seconds())
	for _, st := range res.Steps {
		m.steps.WithLabelValues(python, backend, st.Name, string(st.Status)).Observe(st.Duration.Seconds())
		if st.Status == outcome.Machinery {
			m.failures.WithLabelValues(backend, st.Reason).Inc()
		}
	}
	// The job may have kept archives: the next scrape reads the store.
	m.parts.mu.Lock()
	m.parts.usageAt = time.Time{}
	m.parts.mu.Unlock()
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// partsCollector reads the queue, the index client and the artifact store
// when scraped.
type partsCollector struct {
	s *Service

	// The artifact store is walked at most once a minute: it may hold
	// many files.
	mu       sync.Mutex
	usage    artifacts.Usage
	usageAt  time.Time
	usageErr error
}

var (
	queueDesc = prometheus.NewDesc("pysmoke_queue_jobs",
		"Builds in the shared queue by River's state (available, running, retryable, scheduled, completed, discarded, cancelled); completed ones until River prunes them.",
		[]string{"state"}, nil)
	indexRequestsDesc = prometheus.NewDesc("pysmoke_index_requests_total",
		"HTTP requests this process made to the index (pages, hints and downloads; retries not counted).", nil, nil)
	indexNotModifiedDesc = prometheus.NewDesc("pysmoke_index_not_modified_total",
		"Conditional requests the index answered 304.", nil, nil)
	indexErrorsDesc = prometheus.NewDesc("pysmoke_index_errors_total",
		"Requests to the index that failed after their retries (no answer, 429, or 500 and more).", nil, nil)
	indexDownloadsDesc = prometheus.NewDesc("pysmoke_index_downloads_total",
		"Files this process downloaded from the index into its mirror.", nil, nil)
	indexMismatchDesc = prometheus.NewDesc("pysmoke_index_hash_mismatches_total",
		"Downloads whose bytes did not match the index's SHA-256.", nil, nil)
	artifactBytesDesc = prometheus.NewDesc("pysmoke_artifacts_bytes",
		"Bytes of the archives this process's jobs built and keeps for diffs (read at most once a minute).", nil, nil)
	artifactFilesDesc = prometheus.NewDesc("pysmoke_artifacts_files",
		"Files in this process's artifact store (read at most once a minute).", nil, nil)
)

func (c *partsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{queueDesc, indexRequestsDesc, indexNotModifiedDesc, indexErrorsDesc,
		indexDownloadsDesc, indexMismatchDesc, artifactBytesDesc, artifactFilesDesc} {
		ch <- d
	}
}

// riverStates are reported even when empty, so that a series does not
// vanish when its queue drains.
var riverStates = []string{"available", "scheduled", "pending", "running", "retryable", "completed", "discarded", "cancelled"}

func (c *partsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if depth, err := c.s.queue.Depth(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(queueDesc, err)
	} else {
		for _, st := range riverStates {
			ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(depth[st]), st)
		}
	}
	ix := c.s.index.Stats()
	ch <- prometheus.MustNewConstMetric(indexRequestsDesc, prometheus.CounterValue, float64(ix.Requests))
	ch <- prometheus.MustNewConstMetric(indexNotModifiedDesc, prometheus.CounterValue, float64(ix.NotModified))
	ch <- prometheus.MustNewConstMetric(indexErrorsDesc, prometheus.CounterValue, float64(ix.Errors))
	ch <- prometheus.MustNewConstMetric(indexDownloadsDesc, prometheus.CounterValue, float64(ix.Downloads))
	ch <- prometheus.MustNewConstMetric(indexMismatchDesc, prometheus.CounterValue, float64(ix.Mismatches))
	c.mu.Lock()
	if time.Since(c.usageAt) > time.Minute {
		c.usage, c.usageErr = c.s.arts.Usage()
		c.usageAt = time.Now()
	}
	u, err := c.usage, c.usageErr
	c.mu.Unlock()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(artifactBytesDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(artifactBytesDesc, prometheus.GaugeValue, float64(u.Bytes))
	ch <- prometheus.MustNewConstMetric(artifactFilesDesc, prometheus.GaugeValue, float64(u.Files))
}
