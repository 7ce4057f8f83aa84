# The pipeline's targets, included from the top Makefile. Everything here installs what it needs.
#   make venv-moto   moto's server mode (the local AWS emulator), pinned, in the ignored .venv
#   make test-e2e    only the tests that talk to moto and the Lambda binary
#   make demo        an invite's life through `invite-router process` on the embedded backend
# (also usable alone: make -f make/pipeline.mk demo)
# `test-rust` (the top Makefile's `cargo test --all-targets`) gains venv-moto as a prerequisite,
# because the end-to-end tests fail loudly when moto is missing rather than pass without running.

SHELL := bash
# Including this file must not change the includer's default goal (`make` alone).
PIPELINE_INCLUDER_DEFAULT_GOAL := $(.DEFAULT_GOAL)
# Paths are anchored to this file, so the fragment works from the repo root or anywhere else.
PIPELINE_REPO_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
include $(PIPELINE_REPO_ROOT)/make/defaults.mk

MOTO_VERSION ?= 5.2.5
# Shared with the CDK tools (make/cdk.mk): each installs its own pins, with its own stamp.
VENV ?= $(PIPELINE_REPO_ROOT)/.venv
MOTO_STAMP := $(VENV)/.moto-installed
# The e2e tests find the server through this (tests/support/moto.rs); absolute so any cwd works.
export MOTO_SERVER ?= $(abspath $(VENV)/bin/moto_server)

.PHONY: venv-moto test-e2e demo

# The stamp holds the installed version: bumping MOTO_VERSION reinstalls, nothing else does.
# The CDK engineer's cfn-lint shares the venv with its own stamp.
venv-moto:
	@if [ "$$(cat $(MOTO_STAMP) 2>/dev/null)" != "$(MOTO_VERSION)" ]; then \
	  set -e; \
	  test -x $(VENV)/bin/python || python3 -m venv $(VENV); \
	  echo "installing moto[server]==$(MOTO_VERSION) into $(VENV)"; \
	  $(VENV)/bin/pip install --quiet --disable-pip-version-check 'moto[server]==$(MOTO_VERSION)'; \
	  echo '$(MOTO_VERSION)' > $(MOTO_STAMP); \
	fi

test-rust: venv-moto

test-e2e: venv-moto
	cd $(PIPELINE_REPO_ROOT) && $(CARGO) test --test e2e_moto --test lambda_runtime \
		--test metrics_emf --test operator_commands

DEMO_STATE ?= $(PIPELINE_REPO_ROOT)/demo-state

# Debug build on purpose: it shares the test build's cache, and the demo is six emails.
demo:
	cd $(PIPELINE_REPO_ROOT) && $(CARGO) build --quiet --bin invite-router
	bash $(PIPELINE_REPO_ROOT)/demo/run.sh \
	  "$${CARGO_TARGET_DIR:-$(PIPELINE_REPO_ROOT)/target}/debug/invite-router" "$(DEMO_STATE)"

.DEFAULT_GOAL := $(PIPELINE_INCLUDER_DEFAULT_GOAL)
