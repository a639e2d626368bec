# pysmoke: make demo runs the service on the embedded defaults against a
# local index of sample packages; make test runs every test.

GO      ?= go
BIN     := bin/pysmoke
PORT    ?= 8080
INDEX_PORT ?= 8081

.PHONY: all build deps toolchain sandbox-image test-deps bench-deps demo test test-full bench vet fmt clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/pysmoke

# What the embedded defaults need from Debian: bubblewrap for the namespace
# sandbox. Installed only when missing (needs root, as the sandbox does).
deps:
	@command -v bwrap >/dev/null 2>&1 || { \
		echo "installing bubblewrap (the namespace sandbox)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; }

# The offline wheelhouse the jobs install setuptools, wheel and pytest from:
# built once from each interpreter's ensurepip wheels and Debian packages
# (a private apt configuration in the cache folder), then reused.
toolchain: build
	$(BIN) toolchain >/dev/null

demo: deps build toolchain
	PYSMOKE=$(BIN) PORT=$(PORT) INDEX_PORT=$(INDEX_PORT) scripts/demo.sh

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The tests also drive a real browser (Debian's chromium) over the pages,
# host the static export with nginx, write .tar.bz2 sdists with bzip2 (Go
# has no bzip2 writer), and run the store and the queue on Debian's
# PostgreSQL as well as SQLite.
test-deps: deps
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing chromium (browser tests of the reports)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v bzip2 >/dev/null 2>&1 || { \
		echo "installing bzip2 (the unpacker's tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bzip2 >/dev/null; }
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
		echo "installing nginx (hosts the static export in the tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }
	@bash scripts/postgres.sh

# The docker sandbox's image, built from Debian's packages by debootstrap
# (installed when missing) when a Docker engine answers; about 70 s once,
# then reused until its recipe changes.
sandbox-image: build
	@if docker version >/dev/null 2>&1; then \
		command -v debootstrap >/dev/null 2>&1 || { \
			echo "installing debootstrap (the docker sandbox's image)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }; \
		$(BIN) image >/dev/null; \
	else echo "no Docker engine answers: the docker backend's tests skip (and fail under CI)"; fi

# About 34 minutes on a 2-core VM at 027863b (a fresh clone under .ci/run:
# the runner's tests 1,891 s from the start, the command's 1,354 s with the
# crash test, and then the seeded corpus 408 s beside them): over the 30
# minutes this project allows itself (about 30 at 701b5fa on another VM).
# The timeout leaves room for a busy machine.
# Screenshots and other files the tests keep are written under
# test-artifacts/_artifacts/ (go test -artifacts; a folder per test).
# go test runs packages in the order named, two at a time on two cores:
# the longest first, so that neither waits behind the short ones and ends
# last (./... names the rest once more; go test runs each once).
SLOWEST_FIRST = ./runner/ ./cmd/pysmoke/ ./experiment/

test: test-deps vet toolchain sandbox-image
	rm -rf test-artifacts && mkdir -p test-artifacts
	$(GO) test -count=1 -timeout 60m -artifacts -outputdir $(CURDIR)/test-artifacts $(SLOWEST_FIRST) ./...

# test plus the exhaustive variants (PYSMOKE_TEST_FULL: every sample on
# every interpreter on Docker too, not only some samples on 2.7 and 3.13).
test-full:
	PYSMOKE_TEST_FULL=1 $(MAKE) test

# The sandbox's overhead per step and per job, and the whole matrix of a
# sample bare, on namespace and on Docker, three rounds (about 25 minutes);
# figures and how to read them in docs/benchmarks.md.
bench: deps toolchain sandbox-image bench-deps
	$(GO) test -run '^$$' -bench . -benchtime 3x -timeout 90m ./...
# The crawler's schedule over 5,000 projects (docs/benchmarks.md); an hour
# of schedule takes PYSMOKE_BENCH_HOUR (default 60s) of real time.
	PYSMOKE_BENCH_CRAWL=1 $(GO) test -run '^$$' -bench CrawlSchedule -benchtime 1x -timeout 30m ./crawler/
# 2to3 over 10 MB of source, bare and in the sandbox, two rounds (about
# 10 minutes).
	PYSMOKE_BENCH_2TO3=1 $(GO) test -run '^$$' -bench TwoToThree10MB -benchtime 2x -timeout 30m ./runner/
# The report server against nginx serving the same bytes, wrk -t1 -c32,
# 5,000 projects (about 2.5 minutes; needs Debian's nginx and wrk).
	PYSMOKE_BENCH_SERVE=1 $(GO) test -run '^$$' -bench ServeVsNginx -benchtime 1x -timeout 30m ./service/
# The same with wrk and the servers on separate CPUs (taskset).
	PYSMOKE_BENCH_SERVE=1 PYSMOKE_BENCH_SERVE_PIN=1 $(GO) test -run '^$$' -bench ServeVsNginx -benchtime 1x -timeout 30m ./service/
# An experiment over the samples on two Pythons against the same cells
# with pysmoke run one after another, two rounds (about 50 minutes).
	PYSMOKE_BENCH_EXPERIMENT=1 $(GO) test -run '^$$' -bench ExperimentVsRuns -benchtime 1x -timeout 90m ./cmd/pysmoke/
# The queue's own time per build on SQLite and on Postgres (a few
# seconds), and a backfill's builds a minute with one pysmoke worker
# process against two on Postgres, two rounds (about 5 minutes).
	PYSMOKE_BENCH_QUEUE=1 $(GO) test -run '^$$' -bench QueueOverhead -benchtime 1x -timeout 10m ./queue/
	PYSMOKE_BENCH_WORKERS=1 $(GO) test -run '^$$' -bench Workers -benchtime 1x -timeout 60m ./cmd/pysmoke/

bench-deps:
	@command -v nginx >/dev/null 2>&1 && command -v wrk >/dev/null 2>&1 || { \
		echo "installing nginx and wrk (the report server's benchmark)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk >/dev/null; }
	@bash scripts/postgres.sh

# Every fuzz target of the parsers of untrusted input, one after another,
# FUZZTIME each (the list is in scripts/fuzz.sh); a crash fails it and
# leaves its input under the package's testdata/fuzz.
FUZZTIME ?= 20s
.PHONY: fuzz
fuzz:
	GO=$(GO) bash scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf bin .demo test-artifacts
