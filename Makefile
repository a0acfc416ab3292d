# The front door: `make dev` runs the whole service locally, `make test` runs every test.
# Both set themselves up on first run (system packages, venv, pinned Python packages).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LAYER_STAMP := build/layers/dependencies.stamp
CDK_CLI := npx --yes aws-cdk@2.1148.1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help setup layer system-deps dev receiver admin dlq-list dlq-redrive test test-fast bench bench-e2e bench-capture bench-cold bench-webhooks load-webhooks load-neighbours cost cost-measure lint format synth deploy destroy clean

help:
	@echo "make dev      run the whole service on this machine (API on http://127.0.0.1:$${SHOTWIRE_PORT:-8000})"
	@echo "make receiver a local webhook receiver on http://127.0.0.1:9000 that verifies signatures and saves images"
	@echo "make dlq-list / dlq-redrive   list the webhook DLQ / move it back into delivery (local stack;"
	@echo "              DEPLOYED=1 for the AWS account in your environment)"
	@echo "make test     run the test suite"
	@echo "make bench    submit-to-webhook latency through the local stack vs raw Playwright"
	@echo "make bench-e2e  end-to-end pages/s (HTTP in, signed webhook out) at 30/100/300 jobs vs the Playwright floor"
	@echo "make bench-capture  capture throughput on a 50-page corpus vs a Playwright floor and shot-scraper"
	@echo "make admin ARGS=\"tenants create --name Acme\"  tenants and API keys (keys create|list|revoke)"
	@echo "make bench-webhooks  dispatcher deliveries/s vs a plain signed-POST loop; event-to-delivery latency"
	@echo "make load-webhooks  1,000 jobs to a receiver failing 30% of first attempts: none may be missing"
	@echo "make load-neighbours  2 ordinary tenants beside a hostile one (bad options, a drip receiver): p95 within 2x"
	@echo "make cost     what a capture costs on AWS, per 1,000 at three volumes (docs/cost.md)"
	@echo "make cost-measure  count the AWS requests per capture on the local stack; rewrites bench/call_counts.json"
	@echo "make lint     ruff and mypy"
	@echo "make synth    write the CloudFormation template to cdk.out/ (offline, no Docker)"
	@echo "make layer    build the zip functions' two layers, bytecode included (part of setup)"
	@echo "make bench-cold  the zip handlers' cold import, with and without the layers' bytecode (API target 300 ms)"
	@echo "make deploy   deploy to the AWS account in your environment (needs Docker for the capture image)"

setup: system-deps $(STAMP) $(BIN)/shotwire $(LAYER_STAMP)

system-deps:
	@scripts/system-deps.sh

$(STAMP): requirements.txt constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is required" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip==24.3.1"
	$(BIN)/pip install -q -r requirements.txt -c constraints.txt
	@# The shared package and the local stack import from the source tree, not from a copy.
	$(BIN)/python -c 'import site, sys; open(site.getsitepackages()[0] + "/shotwire-src.pth", "w").write(sys.argv[1] + "/layers/shared/python\n" + sys.argv[1] + "\n" + sys.argv[1] + "/sdk/src\n")' "$(CURDIR)"
	@touch $(STAMP)

# The `shotwire` command in the venv is the repository's own (devstack/shotwire_cli.py): the SDK's CLI from the
# source tree plus `dev`, `keys` and `tenants` (`pip install "./sdk[cli]"` elsewhere gives the SDK's commands only).
# Its own target: made after the venv, again if it goes missing, and when this file changes what it runs.
$(BIN)/shotwire: Makefile | $(STAMP)
	@printf '#!%s\nimport sys\nfrom devstack.shotwire_cli import main\nsys.exit(main())\n' "$(CURDIR)/$(BIN)/python" > $@ && chmod +x $@

# The zip functions' dependencies layer: the pinned wheels for Lambda's Python, unpacked without Docker.
# The script rebuilds only when the runtime, the pins or itself changed; `make layer` always asks it.
# The shared layer is a compiled copy of layers/shared/python: rebuilt whenever a source changes.
SHARED_SOURCES := $(shell find layers/shared/python -type f -not -path '*/__pycache__/*' -not -path '*_cache/*')
$(LAYER_STAMP): layers/dependencies/requirements.txt scripts/build-layer.sh infra/defaults.py $(SHARED_SOURCES) | $(STAMP)
	@PYTHON=$(BIN)/python scripts/build-layer.sh

layer: | $(STAMP)
	@PYTHON=$(BIN)/python scripts/build-layer.sh

dev: setup
	$(BIN)/shotwire dev

receiver: setup
	$(BIN)/python -m devstack.receiver

# The webhook DLQ after an endpoint outage: what is parked, and sending it all again.
ADMIN_TARGET := $(if $(DEPLOYED),,--local)
dlq-list: setup
	$(BIN)/python -m admin $(ADMIN_TARGET) dlq list

dlq-redrive: setup
	$(BIN)/python -m admin $(ADMIN_TARGET) dlq redrive

# make admin ARGS="tenants create --name Acme"; keys create|list|revoke, tenants list (DEPLOYED=1 for AWS)
admin: setup
	$(BIN)/python -m admin $(ADMIN_TARGET) $(ARGS)

test: setup
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m "not e2e" tests/unit tests/integration

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/shared/python/shotwire_core layers/shared/python/shotwire_contract functions devstack infra app.py bench admin sdk/src/shotwire

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python -m bench.pipeline

# ARGS="--seed 7 --jobs 30 100" (a seed names the generated corpus; default sizes 30 100 300).
bench-e2e: setup
	$(BIN)/python -m bench.e2e $(ARGS)

# shot-scraper is installed for the benchmark only, in a venv of its own.
build/bench-venv/.installed:
	$(PYTHON) -m venv build/bench-venv
	build/bench-venv/bin/pip install -q "shot-scraper==1.12" "playwright==1.65.2"
	@touch $@

bench-cold: setup
	$(BIN)/python -m bench.cold_start

bench-webhooks: setup
	$(BIN)/python -m bench.webhooks

load-webhooks: setup
	$(BIN)/python -m bench.webhook_load

# ARGS="--jobs 60 --rate 1" for a shorter run.
load-neighbours: setup
	$(BIN)/python -m bench.neighbours $(ARGS)

bench-capture: setup build/bench-venv/.installed
	$(BIN)/python -m bench.capture

# What a capture costs on AWS per 1,000 at three volumes (docs/cost.md); no AWS calls.
cost: setup
	$(BIN)/python -m bench.cost_model

# The AWS requests per capture that `make cost` prices, counted on the local stack (moto's request recorder);
# rewrites bench/call_counts.json (commit it). ARGS="--captures 3 --others 1 --out /tmp/c.json" for a quick look.
cost-measure: setup
	$(BIN)/python -m bench.call_counts $(ARGS)

# StackConfig settings for synth/deploy/destroy over cdk.json's, e.g. make deploy CONFIG='{"api_waf": true}'
# (CDK reads CDK_CONTEXT_JSON as context; docs/configuration.md lists the settings).
CDK_CONTEXT := $(if $(CONFIG),CDK_CONTEXT_JSON='{"shotwire": $(CONFIG)}')

# cdk-nag runs inside the synth: an unacknowledged finding fails it. Prints the synth's duration.
synth: setup
	@rm -rf cdk.out; start=$$(date +%s%N); $(CDK_CONTEXT) $(BIN)/python app.py && \
	echo "synth: $$(( ($$(date +%s%N) - start) / 1000000 )) ms, template in cdk.out/" && \
	$(BIN)/python -m infra.nag cdk.out

deploy: synth
	$(CDK_CLI) deploy --app cdk.out --require-approval broadening

# From the synthesized assembly, so CONFIG (the prefix names the stack) reaches it as it reached the deploy.
destroy: synth
	$(CDK_CLI) destroy --app cdk.out

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache
