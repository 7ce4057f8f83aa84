# The pipeline's targets, included from the top Makefile. Everything here installs what it needs.
#   make venv-moto   moto's server mode (the local AWS emulator) in the ignored .venv, pinned
#   make test-e2e    only the tests that talk to moto (S3, SQS, SNS, DynamoDB) and the Lambda binary
#   make demo        an invite's life through `invite-router process` on the embedded backend

MOTO_VERSION ?= 5.2.5
VENV ?= .venv
MOTO_STAMP := $(VENV)/.moto-installed
# The e2e tests find the server through this (tests/support/moto.rs); absolute so any cwd works.
export MOTO_SERVER ?= $(abspath $(VENV)/bin/moto_server)

.PHONY: venv-moto test-e2e demo

venv-moto: $(MOTO_STAMP)

# The stamp names the pinned version, so bumping MOTO_VERSION reinstalls.
$(MOTO_STAMP): make/pipeline.mk
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'moto[server]==$(MOTO_VERSION)'
	echo '$(MOTO_VERSION)' > $@

# `cargo test` needs moto for the end-to-end tests: make them depend on the venv.
test-rust: $(MOTO_STAMP)

test-e2e: $(MOTO_STAMP)
	$(CARGO) test --test e2e_moto --test lambda_runtime

DEMO_STATE ?= demo-state

demo:
	$(CARGO) build --quiet --bin invite-router
	bash demo/run.sh "$(CARGO_TARGET_DIR)/debug/invite-router" "$(DEMO_STATE)"
