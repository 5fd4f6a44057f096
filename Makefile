# Celeriac — two commands: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
RUN_DIR := $(CURDIR)/.run
VENV := $(RUN_DIR)/venv
PY := $(VENV)/bin/python
APT_PACKAGES := libhiredis-dev libnghttp2-dev redis-server redis-tools wrk nghttp2-client curl libcurl4
CONFIG ?= debug
BIN := $(CURDIR)/.build/$(CONFIG)/celeriac
SWIFT_BUILD := swift build -c $(CONFIG)
REDIS_PORT ?= 6399
API_BIND ?= 127.0.0.1:8080

.PHONY: deps apt venv build release run test test-swift fuzz bench bench-http clean

deps: apt venv

# Installs only the Debian packages that are missing (apt-get update once, when needed).
apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# Python Celery for the interop tests and the benchmark anchor (kombu needs the [redis] extra).
venv: $(VENV)/.installed
$(VENV)/.installed:
	@mkdir -p $(RUN_DIR)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q 'celery[redis]==5.7.0' 'aiosmtpd' 'openapi-spec-validator'
	@touch $@

build: apt
	$(SWIFT_BUILD) --product celeriac

release:
	$(MAKE) build CONFIG=release

# Runs the whole system: a private redis-server (unless REDIS_URL is set), the API and a worker.
run: deps build
	@CONFIG=$(CONFIG) RUN_DIR=$(RUN_DIR) REDIS_PORT=$(REDIS_PORT) API_BIND=$(API_BIND) BIN=$(BIN) scripts/run.sh

test: deps
	swift build --build-tests
	CELERIAC_PYTHON=$(PY) CELERIAC_BIN=$(CURDIR)/.build/debug/celeriac swift test --skip-build 2>&1 | tee $(RUN_DIR)/test.log; \
	  status=$${PIPESTATUS[0]}; exit $$status

# Every swift build and benchmark takes this lock so two never share the CPUs. Set BUILD_LOCK= when
# the caller already holds it (a nested flock on the same file from a child would wait forever).
BUILD_LOCK ?= flock /tmp/celeriac-build.lock

# libFuzzer on the HTTP request parser for FUZZ_SECONDS (bounded; a short run belongs in `make test`).
# Own scratch path so it never disturbs .build; the corpus grows in .build-fuzz/corpus, crashes land in
# .build-fuzz/artifacts (replay one with: swift run HTTPParserFuzz <file>).
FUZZ_SECONDS ?= 20
FUZZ_DIR := $(CURDIR)/.build-fuzz
fuzz:
	$(BUILD_LOCK) swift build -c release --product HTTPParserFuzz --scratch-path $(FUZZ_DIR) \
	  --sanitize fuzzer --sanitize address -Xswiftc -use-ld=lld -Xswiftc -DFUZZING
	@mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/artifacts
	SWIFT_BACKTRACE=enable=no $(FUZZ_DIR)/release/HTTPParserFuzz $(FUZZ_DIR)/corpus Tests/Fixtures/http-parser-corpus \
	  -dict=Tests/Fixtures/http-parser.dict -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
	  -artifact_prefix=$(FUZZ_DIR)/artifacts/ -print_final_stats=1

# Release hello-worlds of HTTPServer and Hummingbird 2 under wrk -t2 -c64 -d10s: req/s, p99, RSS, ratios.
bench-http:
	BUILD_LOCK="$(BUILD_LOCK)" bench/http/run.sh

clean:
	rm -rf .build $(FUZZ_DIR) $(RUN_DIR)
