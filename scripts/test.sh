#!/usr/bin/env bash
# Installs what the tests need, starts two local brokers (source A, target B), and runs every
# check: rustfmt, clippy, and all test targets against the brokers. Stops the brokers however
# the run ends. Usage: scripts/test.sh [extra cargo test args]
source "$(dirname "${BASH_SOURCE[0]}")/brokers.sh"
cd "$ROOT"

install_build_deps
command -v cargo >/dev/null || { log "cargo is required (https://rustup.rs)"; exit 1; }
rustup component add rustfmt clippy >/dev/null 2>&1 || true

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

find_durable_tansu
start_brokers
export TEST_SOURCE_BOOTSTRAP="$BOOTSTRAP_A" TEST_TARGET_BOOTSTRAP="$BOOTSTRAP_B" TEST_TANSU="$TANSU"
export TEST_TANSU_DURABLE="$TANSU_DURABLE"
log "cargo test"
cargo test --all-targets --locked "$@"
