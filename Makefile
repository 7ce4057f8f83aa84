# Two commands matter: `make demo` and `make test`. Everything they need they install themselves.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

include make/defaults.mk

.PHONY: help demo test lint test-rust inspect fuzz bench compare-python clean

include make/cdk.mk
include make/pipeline.mk

help:
	@echo "The two commands:"
	@echo "  make demo        run an invite's life through the embedded backend (no AWS needed)"
	@echo "  make test        every check: fmt, clippy, unit, corpus, end-to-end (moto), CDK"
	@echo "Narrower checks:"
	@echo "  make lint        cargo fmt --check and clippy -D warnings"
	@echo "  make test-rust   every Rust test (installs moto for the end-to-end ones)"
	@echo "  make test-e2e    only the tests against moto and the real Lambda binary"
	@echo "  make test-cdk    the CDK app's unit tests (cdk-nag included) and cfn-lint"
	@echo "Looking closer:"
	@echo "  make inspect EML=path/to/mail.eml   what invite-router reads in one email"
	@echo "  make fuzz        fuzz analyze, decide and intake (FUZZ_SECONDS=600 each by default)"
	@echo "  make bench       criterion, whole-process and Python benchmarks (docs/BENCHMARKS.md)"
	@echo "  make compare-python  where Python's email+icalendar reads the fixtures differently"
	@echo "Deploying (cdk/README.md):"
	@echo "  make build       both Lambda bootstraps (router, notifier) with cargo-lambda (arm64)"
	@echo "  make synth       the deployable template (CDK_STAGE=dev|stg|prod, CDK_CONTEXT=...)"
	@echo "  make cdk-deploy  deploy with your AWS credentials"
	@echo "  make clean       remove .venv, cdk/node_modules, cdk/cdk.out and demo-state"
	@echo "The Rust build goes to CARGO_TARGET_DIR=$(CARGO_TARGET_DIR)"

test: lint test-rust test-cdk

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

test-rust:
	$(CARGO) test --all-targets

inspect:
	$(CARGO) run --quiet --bin invite-router -- inspect --pretty "$(EML)"

# cargo-fuzz drives libFuzzer through unstable rustc flags; RUSTC_BOOTSTRAP lets the stable
# toolchain accept them (no nightly can be downloaded here). Five targets, FUZZ_SECONDS each:
# analyze (any bytes through the core), decide (the rules against arbitrary ledger states),
# intake (any SQS body), auth_results (any Authentication-Results value through the RFC 8601
# parser and the trust judgement) and reply (any subject, summary, Message-ID and sender through
# the reply renderer, each reply read back strictly). The email targets start from the fixture
# emails, intake from the bodies of fixtures/sqs, auth_results from the fixtures' headers.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= analyze decide intake auth_results reply
FUZZ_FLAGS = -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	mkdir -p $(addprefix fuzz/corpus/,$(FUZZ_TARGETS)) fuzz/corpus/intake fuzz/corpus/auth_results
	python3 -c 'import json,glob,hashlib,sys; \
		[open("fuzz/corpus/intake/seed-" + hashlib.sha1(r["body"].encode()).hexdigest()[:12], "w").write(r["body"]) \
		 for f in glob.glob("fixtures/sqs/*.json") for r in json.load(open(f))["Records"]]'
	python3 -c 'import email,email.policy,glob,hashlib; \
		[open("fuzz/corpus/auth_results/seed-" + hashlib.sha1(v.encode()).hexdigest()[:12], "w").write(v) \
		 for f in glob.glob("fixtures/emails/*/*.eml") \
		 for v in email.message_from_binary_file(open(f, "rb"), policy=email.policy.compat32).get_all("Authentication-Results", [])]'
	set -e; for target in $(FUZZ_TARGETS); do \
		seeds=$$(case $$target in analyze|decide) echo $(addprefix ../,$(wildcard fixtures/emails/*/));; esac); \
		(cd fuzz && RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$(CARGO_TARGET_DIR)-fuzz \
			cargo fuzz run $$target corpus/$$target $$seeds -- $(FUZZ_FLAGS) -max_len=65536); \
	done

# Benchmarks need optimized code. The core's run without the AWS SDK (a cold release build of the
# SDK crates takes about ten minutes here); lambda_process builds the Lambda binaries as
# `make build` does (--no-default-features --features aws) and starts them against moto. Each
# benchmark leaves its figures in BENCH_FIGURES, from which benches/cost.py prices a million
# invites (docs/BENCHMARKS.md).
BENCH_EMAILS := fixtures/emails/outlook/exchange-invite-w-europe.eml \
	fixtures/emails/google/gmail-invite-inline-and-attachment.eml \
	fixtures/emails/apple/apple-mail-qp-ics-attachment.eml \
	fixtures/emails/outlook/teams-meeting.eml \
	fixtures/emails/google/google-recurring-moved-occurrence.eml
bench: export BENCH_FIGURES := $(CARGO_TARGET_DIR)/bench-figures
bench: .venv/.bench-installed venv-moto
	rm -rf $(BENCH_FIGURES)
	$(CARGO) bench --no-default-features --features cli --bench analyze
	$(CARGO) bench --no-default-features --features cli --bench ratio
	$(CARGO) bench --no-default-features --features cli --bench batch
	$(CARGO) bench --no-default-features --features aws --bench lambda_process
	$(CARGO) build --release --no-default-features --features cli --bin invite-router
	benches/whole_process.sh $(CARGO_TARGET_DIR)/release/invite-router
	.venv/bin/python benches/python_baseline.py 200 $(BENCH_EMAILS)
	python3 benches/cost.py $(BENCH_FIGURES)

# Every fixture and shared-corpus email through the Python stack of the baseline and through
# `inspect`; fixtures/README.md explains each disagreement.
compare-python: .venv/.bench-installed
	$(CARGO) build --bin invite-router
	.venv/bin/python benches/python_compare.py $(CARGO_TARGET_DIR)/debug/invite-router \
		$$(find fixtures/emails $(wildcard ../shared/corpus) -name '*.eml' | sort)

.venv/.bench-installed:
	test -x .venv/bin/python || python3 -m venv .venv
	.venv/bin/pip install --quiet 'icalendar==7.3.0'
	touch $@

clean:
	rm -rf .venv cdk/node_modules cdk/cdk.out demo-state
