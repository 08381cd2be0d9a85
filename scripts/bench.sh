#!/usr/bin/env bash
# Starts local Kafka clusters (Apache Kafka 4.3.1, one KRaft node each) and runs the replication
# benchmark from A to B (release build).
# Usage: scripts/bench.sh   (BENCH_MB=1024 and BENCH_SMALL_MB=128 set the backlog sizes)
source "$(dirname "${BASH_SOURCE[0]}")/kafka.sh"
cd "$ROOT"
install_deps
cargo build --release --benches --locked
start_brokers
export TEST_SOURCE_BOOTSTRAP="$BOOTSTRAP_A" TEST_TARGET_BOOTSTRAP="$BOOTSTRAP_B"
cargo bench --locked --bench replicate
