# The CDK app's targets (cdk/README.md): included by the top Makefile, or run alone as
#   make -f make/cdk.mk test-cdk
# Paths are anchored to this file, so the fragment works from the repo root or anywhere else.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
# Including this file must not change the includer's default goal (`make` alone).
CDK_INCLUDER_DEFAULT_GOAL := $(.DEFAULT_GOAL)

CDK_REPO_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
CDK_DIR := $(CDK_REPO_ROOT)/cdk
# Shared with the other Python tools of the project (moto): each installs its own pins, idempotently.
CDK_VENV := $(CDK_REPO_ROOT)/.venv
CFN_LINT_VERSION := 1.58.0
CARGO_LAMBDA_VERSION := 1.9.2

include $(CDK_REPO_ROOT)/make/defaults.mk
# Where `make build` leaves bootstrap and `make synth` takes it from.
LAMBDA_DIR = $(CARGO_TARGET_DIR)/lambda
LAMBDA_ASSET_DIR = $(LAMBDA_DIR)/invite-router-lambda
NOTIFIER_ASSET_DIR = $(LAMBDA_DIR)/invite-router-notifier
ASSET_CONTEXT = -c lambdaAssetDir=$(LAMBDA_ASSET_DIR) -c notifierAssetDir=$(NOTIFIER_ASSET_DIR)

# `make synth CDK_STAGE=prod CDK_CONTEXT='-c recipients=create@invites.example.org'`
CDK_STAGE ?= dev
CDK_CONTEXT ?=
# The CLI stays offline: no telemetry, no notices, no version reporting.
CDK_CLI = CDK_DISABLE_CLI_TELEMETRY=true $(CDK_DIR)/node_modules/.bin/cdk --no-notices --no-version-reporting

CDK_NPM_STAMP := $(CDK_DIR)/node_modules/.installed-from-lock
CFN_LINT_STAMP := $(CDK_VENV)/.cfn-lint-$(CFN_LINT_VERSION)-installed
CARGO_LAMBDA_STAMP := $(CDK_VENV)/.cargo-lambda-$(CARGO_LAMBDA_VERSION)-installed

.PHONY: test-cdk cdk-compile cdk-test-unit cdk-lint-template synth build cdk-deploy

# Unit tests of the stack (cdk-nag included), then cfn-lint over templates the real CLI synthesized.
test-cdk: cdk-test-unit cdk-lint-template

# Only the compiled twins of test/*.test.ts run: a deleted test's stale .js in dist/ does not.
CDK_TEST_FILES = $(patsubst $(CDK_DIR)/test/%.ts,dist/test/%.js,$(wildcard $(CDK_DIR)/test/*.test.ts))

cdk-test-unit: cdk-compile
	cd $(CDK_DIR) && node --test $(CDK_TEST_FILES)

# Reinstall only when the lock file changed (or node_modules is gone, taking the stamp with it).
$(CDK_NPM_STAMP): $(CDK_DIR)/package-lock.json $(CDK_DIR)/package.json
	cd $(CDK_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# tsc parses all of aws-cdk-lib's typings (~10 s) even with nothing to do, so it runs only when a
# source, the config or the installed packages changed. Deleting dist/ starts over.
CDK_SOURCES = $(wildcard $(CDK_DIR)/bin/*.ts $(CDK_DIR)/lib/*.ts $(CDK_DIR)/test/*.ts) $(CDK_DIR)/tsconfig.json
CDK_BUILD_STAMP := $(CDK_DIR)/dist/.built
cdk-compile: $(CDK_BUILD_STAMP)
$(CDK_BUILD_STAMP): $(CDK_SOURCES) $(CDK_NPM_STAMP)
	cd $(CDK_DIR) && ./node_modules/.bin/tsc -p tsconfig.json
	touch $@

$(CFN_LINT_STAMP):
	test -x $(CDK_VENV)/bin/python || python3 -m venv $(CDK_VENV)
	$(CDK_VENV)/bin/pip install --quiet 'cfn-lint==$(CFN_LINT_VERSION)'
	touch $@

# dev and prod differ (retention, deletion protection), so both templates are linted. The asset
# is a dummy bootstrap: this checks the template, not the Rust build.
cdk-lint-template: cdk-compile $(CFN_LINT_STAMP)
	rm -rf $(CDK_DIR)/cdk.out/lint-*
	asset=$$(mktemp -d) && trap 'rm -rf "$$asset"' EXIT && \
	printf '#!/bin/sh\nexit 1\n' > "$$asset/bootstrap" && \
	for stage in dev prod; do \
	  (cd $(CDK_DIR) && $(CDK_CLI) synth --quiet -o cdk.out/lint-$$stage \
	    -c stage=$$stage -c recipients=create@example.com -c replyFrom=invite-router@example.com \
	    -c lambdaAssetDir="$$asset" -c notifierAssetDir="$$asset"); \
	done
	$(CDK_VENV)/bin/cfn-lint --ignore-checks W3005 -- $(CDK_DIR)/cdk.out/lint-*/InviteRouter-*.template.json
	@echo "cfn-lint: no findings in $$(ls $(CDK_DIR)/cdk.out/lint-*/InviteRouter-*.template.json | wc -l) templates"

$(CARGO_LAMBDA_STAMP):
	test -x $(CDK_VENV)/bin/python || python3 -m venv $(CDK_VENV)
	$(CDK_VENV)/bin/pip install --quiet 'cargo-lambda==$(CARGO_LAMBDA_VERSION)'
	touch $@

# The real Lambda binary. cargo-lambda finds zig through the venv's python (PyPI ziglang).
# --arm64 may run `rustup target add aarch64-unknown-linux-gnu` (a download): keep it out of `make test`.
build: $(CARGO_LAMBDA_STAMP)
	cd $(CDK_REPO_ROOT) && PATH="$(CDK_VENV)/bin:$$PATH" \
	  $(CARGO) lambda build --release --arm64 --no-default-features --features aws --bin invite-router-lambda --lambda-dir $(LAMBDA_DIR)
	cd $(CDK_REPO_ROOT) && PATH="$(CDK_VENV)/bin:$$PATH" \
	  $(CARGO) lambda build --release --arm64 --no-default-features --features aws --bin invite-router-notifier --lambda-dir $(LAMBDA_DIR)
	test -x $(LAMBDA_ASSET_DIR)/bootstrap
	test -x $(NOTIFIER_ASSET_DIR)/bootstrap

# The deployable template from the real binary, in cdk/cdk.out.
synth: build cdk-compile
	cd $(CDK_DIR) && $(CDK_CLI) synth --quiet -c stage=$(CDK_STAGE) $(ASSET_CONTEXT) $(CDK_CONTEXT)
	@echo "template: $(CDK_DIR)/cdk.out/InviteRouter-$(CDK_STAGE).template.json"

# Deploys with the caller's AWS credentials (see cdk/README.md for bootstrap and SES activation).
cdk-deploy: build cdk-compile
	cd $(CDK_DIR) && $(CDK_CLI) deploy -c stage=$(CDK_STAGE) $(ASSET_CONTEXT) $(CDK_CONTEXT)

.DEFAULT_GOAL := $(CDK_INCLUDER_DEFAULT_GOAL)
