#!/usr/bin/env bash
# Installs what the tests need (Debian packages, Java 17, Maven, Apache Kafka from Maven Central,
# promtool and a Python venv for the deploy checks),
# starts three local Kafka clusters (A, B, C), and runs every check: rustfmt, clippy, the
# broker-free tier (every test target with no cluster configured: tests that need a broker say
# "skipped" and return), then every test target against the clusters, where no test may skip.
# Stops the clusters however the run ends.
# Usage: scripts/test.sh [extra cargo test args]
source "$(dirname "${BASH_SOURCE[0]}")/kafka.sh"
cd "$ROOT"

install_deps
# promtool and the Python venv of the deploy checks (tests/deploy).
source "$ROOT/scripts/deploy-tools.sh"
deploy_tools_install
command -v cargo >/dev/null || { log "cargo is required (https://rustup.rs)"; exit 1; }
rustup component add rustfmt clippy >/dev/null 2>&1 || true

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

log "cargo test, broker-free tier"
env -u TEST_SOURCE_BOOTSTRAP -u TEST_REQUIRE_BROKERS cargo test --all-targets --locked --no-fail-fast "$@"

# The Kafka versions the tests run: 4.3.1 for the clusters and most nodes, 3.9.1 as an
# on-premises source.
kafka_install "$KAFKA_OLD_VERSION" >/dev/null
start_brokers
export TEST_SOURCE_BOOTSTRAP="$BOOTSTRAP_A" TEST_TARGET_BOOTSTRAP="$BOOTSTRAP_B" TEST_THIRD_BOOTSTRAP="$BOOTSTRAP_C"
export TEST_SOURCE_SSL_BOOTSTRAP="$BOOTSTRAP_A_SSL" TEST_TARGET_SSL_BOOTSTRAP="$BOOTSTRAP_B_SSL"
export TEST_SOURCE_SASL_BOOTSTRAP="$BOOTSTRAP_A_SASL" TEST_TARGET_SASL_BOOTSTRAP="$BOOTSTRAP_B_SASL"
export TEST_KAFKA_PKI="$RUN_DIR/pki" TEST_CLIENT_KEY_PASSWORD="$CLIENT_KEY_PASSWORD"
export TEST_SCRAM_USER="$SCRAM_USER" TEST_SCRAM_PASSWORD="$SCRAM_PASSWORD"
export TEST_KAFKA_RUN="$RUN_DIR"
export TEST_REQUIRE_BROKERS=1
log "cargo test, against the clusters"
cargo test --all-targets --locked --no-fail-fast "$@"
# The MirrorSource suites again on the batch path (copy.batches.enabled, see
# tests/common/mirror.rs's copy_batches): exact copy, resume, configs, active/active, metrics,
# outages, checkpoints and translations beside Java, TLS and SCRAM, Kafka 3.9, the fault suite.
log "cargo test, against the clusters, on the batch path"
TEST_COPY_BATCHES=1 cargo test --locked --no-fail-fast \
  --test mirror_source --test interop --test security --test kafka_versions --test fault \
  --test mirror_checkpoint "$@"
