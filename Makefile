# Sluice. The two commands of the README:
#   make run    install what is missing, build release, serve on 127.0.0.1:4566 with ./data
#   make test   install what is missing, build, run every test (what CI runs)
# Everything else here is a step of those two.

SHELL := /bin/bash
JOBS ?= $(shell nproc)
PYTHON := /usr/bin/python3
# The e2e tests' Python clients (pytest, boto3, AWS CLI v1), pinned in tests/e2e/requirements.txt.
VENV := build/venv
VENV_PYTHON := $(VENV)/bin/python
# Seconds of fuzzing per target in `make test` (11 targets). Longer runs by hand:
# make fuzz FUZZ_SECONDS=600.
FUZZ_SECONDS ?= 20
# pytest-xdist workers for the end-to-end runs: each test starts its own servers on ports of
# its own, and most of a test's time is waiting on them, so four share two cores well.
E2E_WORKERS ?= 4
RUN_ARGS ?=

.PHONY: run test build build-tests deps test-deps clients-deps runtimes-deps unit e2e runtime-clients sanitizers tsan fuzz check-format check-layers bench clean

deps:
	@scripts/install-deps.sh

test-deps:
	@scripts/install-deps.sh --test
	@$(MAKE) --no-print-directory clients-deps
	@if ! cmp -s tests/e2e/requirements.txt $(VENV)/.requirements.txt; then \
	  echo "test-deps: installing tests/e2e/requirements.txt into $(VENV)"; \
	  [ -x $(VENV_PYTHON) ] || $(PYTHON) -m venv $(VENV); \
	  $(VENV_PYTHON) -m pip install -q --disable-pip-version-check -r tests/e2e/requirements.txt && \
	  cp tests/e2e/requirements.txt $(VENV)/.requirements.txt; \
	fi
	@$(MAKE) --no-print-directory runtimes-deps

# The real AWS clients of tests/e2e/test_clients.py (npm and Maven, pinned; see tests/clients).
clients-deps:
	@scripts/install-clients.sh

# AWS's own Lambda runtime clients for tests/e2e/test_lambda_runtimes.py: aws-lambda-ric (npm),
# aws-lambda-cpp built from its sources, a C++ function on it (pinned; see tests/runtimes).
# After the venv: it also checks that awslambdaric imports there.
runtimes-deps:
	@scripts/install-runtimes.sh

# The server alone: `make run` needs none of the test packages.
build: deps
	cmake --preset release -DSLUICE_BUILD_TESTS=OFF -DSLUICE_BUILD_BENCH=OFF >/dev/null
	cmake --build --preset release -j $(JOBS) --target sluice

# The server, the unit/crash tests and the benchmark, with GCC.
build-tests: test-deps
	cmake --preset release -DSLUICE_BUILD_TESTS=ON -DSLUICE_BUILD_BENCH=ON >/dev/null
	cmake --build --preset release -j $(JOBS)

run: build
	build/release/sluice serve --host 127.0.0.1 --port 4566 --data-dir ./data $(RUN_ARGS)

# The whole suite, in the order STYLE.md gives: cheap checks first, then GCC unit tests,
# sanitizers, fuzzing, end-to-end.
test: test-deps
	$(MAKE) check-format check-layers
	$(MAKE) build-tests
	$(MAKE) unit e2e runtime-clients
	$(MAKE) sanitizers tsan
	$(MAKE) fuzz

unit:
	cd build/release && ctest --output-on-failure -j $(JOBS) -LE slow --timeout 600

e2e: test-deps
	SLUICE_BIN=$(CURDIR)/build/release/sluice SLUICE_HANDLER_DIR=$(CURDIR)/build/release/handlers \
	  $(VENV_PYTHON) -m pytest -q -n $(E2E_WORKERS) --dist loadgroup tests/e2e

# Sluice's own Python and Node.js Lambda runtime clients against a fake Runtime API (and
# AWS's awslambdaric and aws-lambda-ric, from runtimes-deps, for comparison).
runtime-clients: test-deps
	SLUICE_AWS_LAMBDA_RIC_DIR=$(CURDIR)/build/runtimes/node $(VENV_PYTHON) -m pytest -q -n $(E2E_WORKERS) tests/runtime_clients

# clang ASan+UBSan: the unit and crash tests, and the end-to-end tests against that binary.
# The same build holds the fuzz targets (its code carries libFuzzer's coverage instrumentation),
# so `make fuzz` after it compiles nothing more.
sanitizers: test-deps
	cmake --preset asan-ubsan >/dev/null
	cmake --build --preset asan-ubsan -j $(JOBS)
	cd build/asan-ubsan && ctest --output-on-failure -j $(JOBS) -LE slow --timeout 900
	SLUICE_BIN=$(CURDIR)/build/asan-ubsan/sluice SLUICE_HANDLER_DIR=$(CURDIR)/build/asan-ubsan/handlers \
	  $(VENV_PYTHON) -m pytest -q -n $(E2E_WORKERS) --dist loadgroup tests/e2e

# ThreadSanitizer over the tests that run threads against each other.
tsan:
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan -j $(JOBS) --target sluice_concurrency_tests
	cd build/tsan && ctest --output-on-failure -j $(JOBS) -L concurrency -LE slow --timeout 900

fuzz:
	scripts/run-fuzz.sh $(FUZZ_SECONDS)

check-format:
	scripts/check-format.sh

check-layers:
	scripts/check-layers.sh

bench:
	bench/run.sh

clean:
	rm -rf build
