# The pipeline's targets, included from the top Makefile. Everything here installs what it needs.
#   make venv-moto   moto's server mode (the local AWS emulator), pinned, in the ignored .venv
#   make test-e2e    only the tests that talk to moto and the Lambda binary
#   make demo        an invite's life through `invite-router process` on the embedded backend
# `test-rust` (the top Makefile's `cargo test --all-targets`) gains venv-moto as a prerequisite,
# because the end-to-end tests fail loudly when moto is missing rather than pass without running.

MOTO_VERSION ?= 5.2.5
VENV ?= .venv
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
	$(CARGO) test --test e2e_moto --test lambda_runtime

DEMO_STATE ?= demo-state

# Debug build on purpose: it shares the test build's cache, and the demo is six emails.
demo:
	$(CARGO) build --quiet --bin invite-router
	bash demo/run.sh "$${CARGO_TARGET_DIR:-target}/debug/invite-router" "$(DEMO_STATE)"
