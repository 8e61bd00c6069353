# `make serve`: install and run Packyard on the embedded default (SQLite, files, no Redis).
# `make test`: install and run the whole suite on PostgreSQL + Redis + a real Celery worker,
#              then again on the embedded default.
VENV ?= .venv
PY := $(VENV)/bin/python
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
REDIS_URL ?= redis://127.0.0.1:6379/0
TEST_HOME := $(shell mktemp -u /tmp/packyard-pytest-XXXXXX)

.PHONY: install tools bench-tools serve test test-postgres test-embedded bench bench-npm bench-maven bench-docker

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	bash scripts/debian-packages.sh build
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# Client tools the e2e tests drive: Debian's (scripts/debian-packages.sh test), pnpm and yarn 1
# (issue 3), fetched from the npm registry at install time only.
PNPM_VERSION := 12.4.2
YARN_VERSION := 1.22.22
tools: .tools/pnpm-$(PNPM_VERSION)-yarn-$(YARN_VERSION).stamp
	bash scripts/debian-packages.sh test

.tools/pnpm-$(PNPM_VERSION)-yarn-$(YARN_VERSION).stamp:
	npm install --prefix .tools --no-audit --no-fund --no-save pnpm@$(PNPM_VERSION) yarn@$(YARN_VERSION)
	touch $@

serve: install
	$(VENV)/bin/packyard serve

test: test-postgres test-embedded

test-postgres: install tools
	PACKYARD_HOME=$(TEST_HOME)-pg PACKYARD_DATABASE_URL=$(PG_URL) PACKYARD_REDIS_URL=$(REDIS_URL) \
	  PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/pytest $(PYTEST_ARGS)

test-embedded: install tools
	PACKYARD_HOME=$(TEST_HOME)-embedded PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/pytest $(PYTEST_ARGS)

# What the benchmarks run besides Packyard: nginx, skopeo, docker-registry (Verdaccio comes from npm).
bench-tools:
	bash scripts/debian-packages.sh bench

# Every benchmark: PyPI (run.py), then each format's own script.
bench: install bench-tools
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) benchmarks/run.py
	$(MAKE) --no-print-directory bench-npm bench-maven bench-docker

# npm: Packyard against Verdaccio on 120 synthetic packages, and packument latency (docs/benchmarks.md).
bench-npm: install
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) benchmarks/npm.py

# Maven: mvn package with an empty local repository, through a Packyard virtual vs nginx.
bench-maven: install bench-tools
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) benchmarks/maven.py

# Docker: skopeo push/pull of a 500 MiB image and manifest GETs, Packyard vs docker-registry.
bench-docker: install bench-tools
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) benchmarks/docker.py
