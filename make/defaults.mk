# Defaults every Makefile of the project shares, set here and nowhere else. Included by the top
# Makefile and by each fragment (so `make -f make/cdk.mk ...` agrees with `make ...`).
#
# The Rust build lives outside the clone so CI (and every worktree) reuses it.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/invite-router/target
CARGO ?= cargo
