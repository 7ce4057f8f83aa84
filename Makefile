# Two commands matter: `make demo` and `make test`. Everything they need they install themselves.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

# The Rust build lives outside the clone so CI (and every worktree) reuses it.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/invite-router/target
CARGO ?= cargo

.PHONY: help demo test lint test-rust inspect fuzz bench clean

help:
	@echo "make demo   - run an invite's life through the embedded backend (no AWS needed)"
	@echo "make test   - every check: fmt, clippy, unit, corpus, end-to-end, CDK"
	@echo "make inspect EML=path/to/mail.eml - show what invite-router reads in one email"
	@echo "make fuzz   - fuzz the core's analyze() (FUZZ_SECONDS=600 by default)"
	@echo "make bench  - criterion benchmarks of the core (see docs/BENCHMARKS.md)"

test: lint test-rust

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

test-rust:
	$(CARGO) test --all-targets

inspect:
	$(CARGO) run --quiet --bin invite-router -- inspect --pretty "$(EML)"

# cargo-fuzz drives libFuzzer through unstable rustc flags; RUSTC_BOOTSTRAP lets the stable
# toolchain accept them (no nightly can be downloaded here).
FUZZ_SECONDS ?= 600
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	mkdir -p fuzz/corpus/analyze
	cd fuzz && RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$(CARGO_TARGET_DIR)-fuzz \
		cargo fuzz run analyze corpus/analyze $(addprefix ../,$(wildcard fixtures/emails/*/)) -- \
		-max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=2048 -timeout=10

bench:
	$(CARGO) bench --bench analyze

clean:
	rm -rf .venv cdk/node_modules cdk/cdk.out demo-state
