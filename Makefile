# pysmoke: make demo runs the service on the embedded defaults against a
# local index of sample packages; make test runs every test.

GO      ?= go
BIN     := bin/pysmoke
PORT    ?= 8080
INDEX_PORT ?= 8081

.PHONY: all build deps test-deps demo test test-full bench vet fmt clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/pysmoke

# What the embedded defaults need from Debian: bubblewrap for the namespace
# sandbox. Installed only when missing (needs root, as the sandbox does).
deps:
	@command -v bwrap >/dev/null 2>&1 || { \
		echo "installing bubblewrap (the namespace sandbox)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; }

demo: deps build
	PYSMOKE=$(BIN) PORT=$(PORT) INDEX_PORT=$(INDEX_PORT) scripts/demo.sh

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The tests also drive a real browser (Debian's chromium) over the pages.
test-deps: deps
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing chromium (browser tests of the reports)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: test-deps vet
	$(GO) test -count=1 -timeout 25m ./...

test-full: test

bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...

clean:
	rm -rf bin .demo
