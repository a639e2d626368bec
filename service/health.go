package service

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// routes is what the service serves: its health and metrics beside the
// reports.
//
//	/metrics  Prometheus's text format (service/metrics.go)
//	/healthz  200 while the process answers
//	/readyz   200 when the database, the queue and the sandbox backend
//	          answer, else 503 naming what does not (for a load balancer
//	          or an orchestrator: a worker that cannot run jobs, or reach
//	          its database, is not ready)
func (s *Service) routes() http.Handler {
	mux := s.healthMux()
	mux.Handle("/", s.reports)
	return mux
}

// healthRoutes is what a worker serves: its health alone.
func (s *Service) healthRoutes() http.Handler { return s.healthMux() }

func (s *Service) healthMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if problems := s.ready(r.Context()); len(problems) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, strings.Join(problems, "\n"))
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", s.metrics.handler())
	return mux
}

// ready checks what the service needs to do its work; each problem is a
// line, none means ready. Each check has 5 s.
func (s *Service) ready(ctx context.Context) []string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var problems []string
	var one int
	if err := s.store.DB().QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		problems = append(problems, "database: "+err.Error())
	}
	if _, err := s.queue.Depth(ctx); err != nil {
		problems = append(problems, "queue: "+err.Error())
	}
	if !s.opts.NoJobs {
		if err := s.opts.Backend.Available(ctx); err != nil {
			problems = append(problems, "sandbox "+s.opts.Backend.Name()+": "+err.Error())
		}
	}
	return problems
}
