# agentwatch — `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
AW := $(VENV)/bin/agentwatch
DEBIAN_PACKAGES := redis-server redis-tools prometheus prometheus-alertmanager wrk
STAMP := $(VENV)/.installed
SOAK_SECONDS ?= 600
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.DEFAULT_GOAL := help
.PHONY: help deps venv install generate check-generated lock lint test test-fast reliability soak audit demo lab \
	bench bench-quick capacity clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

deps: ## Install the Debian packages the tests and demo run for real (redis, prometheus, alertmanager, wrk)
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(PY):
	python3 -m venv $(VENV)

# torch first, pinned: the CPU build lies on disk; an unpinned torch pulls gigabytes of CUDA wheels.
# constraints.txt pins every package CI installs (`make lock` refreshes it from the venv).
$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PIP) install -q --disable-pip-version-check torch==2.13.0
	$(PIP) install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP) ## Create .venv and install agentwatch with its test extras (idempotent)

install: venv deps ## Everything `make test` and `make demo` need

generate: venv ## Regenerate every committed artefact from agentwatch.yaml
	$(AW) generate

check-generated: venv ## Fail if a committed artefact differs from what agentwatch.yaml generates
	$(AW) generate --check

lock: venv ## Re-pin constraints.txt to what the venv has (after changing dependencies)
	$(PIP) freeze --exclude-editable | grep -v -e '^agentwatch' -e '^torch==' > constraints.txt

lint: venv ## ruff
	$(VENV)/bin/ruff check .

test: install lint ## Lint and run the test suite against real Redis, Prometheus and Alertmanager
	$(VENV)/bin/pytest -q

test-fast: install ## Tests that start no services and load no model
	$(VENV)/bin/pytest -q -m "not live and not model"

reliability: install ## The reliability suite (faults, failover, overload, hostile input, privacy), overload x3 rounds
	$(VENV)/bin/pytest -q -s tests/test_reliability_state.py tests/test_reliability_cluster.py \
	  tests/test_reliability_overload.py tests/test_hostile_input.py tests/test_privacy.py tests/test_soak.py
	$(PY) -m agentwatch.bench.overload --rounds 3

soak: install ## Steady load for SOAK_SECONDS (default 600): RSS, fds, Redis memory, latency at start vs end
	$(PY) -m agentwatch.bench.soak --seconds $(SOAK_SECONDS)

audit: venv ## pip-audit of the pinned set (constraints.txt) against PyPI's vulnerability data
	$(VENV)/bin/pip-audit --requirement constraints.txt --no-deps --disable-pip --progress-spinner off --desc

demo: install ## Run the reference agent with a local Redis, Prometheus and Alertmanager, under load
	$(PY) -m agentwatch.demo

lab: install ## Autoscaling lab: HPA algorithm + real agents through a spike, 3 ways (~40 min; bench/results/autoscaling-lab/)
	$(AW) lab --out bench/results/autoscaling-lab

bench: install ## Run every benchmark (results in bench/results/)
	$(PY) -m agentwatch.bench.run

bench-quick: install ## Short version of every benchmark
	$(PY) -m agentwatch.bench.run --quick

capacity: install ## One pinned agent ramped until the SLO breaks: bench/results/capacity.{json,png} (~5 min)
	$(AW) capacity --peak-rate 200
	$(PY) -m agentwatch.bench.report

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache
