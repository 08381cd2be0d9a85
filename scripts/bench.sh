#!/usr/bin/env bash
# The benchmark: connect-mirror-maker beside Java MirrorMaker 2 and a bare librdkafka copy loop,
# in one run on local Kafka 4.3.1 clusters (benches/replicate/main.rs says what it measures).
# Starts clusters A and B on loopback, and a far source cluster in a network namespace behind a
# 50 ms-each-way link (scripts/far-link.py; needs root, else the far part is skipped).
# Usage: scripts/bench.sh
#   BENCH_PARTS=throughput,latency,far,memory,scale and BENCH_SCALE=1 choose; the scale part's
#   sizes are BENCH_SCALE_TOPICS=5000, _PARTITIONS=2, _RECORDS=10 and _GROUPS=1000, and each of
#   its phases is given BENCH_SCALE_LIMIT=600 seconds.
source "$(dirname "${BASH_SOURCE[0]}")/kafka.sh"
cd "$ROOT"
# Kafka's own default broker heap to start with: the benchmark measures the brokers too. Up to
# 3 GiB, for the scale part: a one-node cluster of 10,000 partitions and 1,000 groups ran out of
# a 1 GiB heap (OutOfMemoryError answering a Metadata request) under either replicator.
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms1g -Xmx3g}"
FAR_NS=mm2-bench-far
install_deps
cargo build --release --benches --locked
start_brokers
FAR_PIDS=()
stop_far() {
  local pid
  for pid in "${FAR_PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap 'stop_far; stop_brokers' EXIT

# start_far: the far cluster, its PLAINTEXT listener on the namespace's address.
start_far() {
  local dir="$RUN_DIR/FAR" port
  python3 "$ROOT/scripts/far-link.py" "$FAR_NS" 50 "$RUN_DIR/far.ready" &
  FAR_PIDS+=($!)
  for _ in $(seq 1 100); do [ -f "$RUN_DIR/far.ready" ] && break; sleep 0.1; done
  [ -f "$RUN_DIR/far.ready" ] || return 1
  kafka_prepare "$dir" "$KAFKA_VERSION"
  port="$(cut -d: -f2 "$dir/bootstrap")"
  sed -i "s#PLAINTEXT://127.0.0.1:$port#PLAINTEXT://10.99.0.2:$port#g" "$dir/server.properties"
  # What an operator sets on a broker read across regions: the kernel's autotuned socket
  # buffers, not Kafka's 100 KiB send buffer, which alone caps any client at about 2 MB/s per
  # connection over a 100 ms round trip. The clients keep their own defaults.
  printf 'socket.send.buffer.bytes=-1\nsocket.receive.buffer.bytes=-1\n' >>"$dir/server.properties"
  # and lets the kernel grow a connection's send buffer to 16 MiB (Linux's default cap is 4 MiB,
  # 40 MB/s at 100 ms); this is the namespace's own setting, the machine's are left alone.
  ip netns exec "$FAR_NS" sysctl -q -w net.ipv4.tcp_wmem="4096 65536 16777216"
  echo "10.99.0.2:$port" >"$dir/bootstrap"
  ip netns exec "$FAR_NS" "$ROOT/scripts/kafka.sh" run "$dir" &
  FAR_PIDS+=($!)
  wait_started "$dir" "$!"
  export BENCH_FAR_BOOTSTRAP="10.99.0.2:$port"
  log "far cluster: $BENCH_FAR_BOOTSTRAP, 50 ms each way"
}
if [ "$(id -u)" = 0 ] && [ -e /dev/net/tun ]; then
  start_far || log "the far link did not come up; the far part is skipped"
else
  log "the far link needs root and /dev/net/tun; the far part is skipped"
fi

export TEST_SOURCE_BOOTSTRAP="$BOOTSTRAP_A" TEST_TARGET_BOOTSTRAP="$BOOTSTRAP_B"
# Cluster B's JVM, stopped for the memory part's target outage.
export BENCH_TARGET_PID="${BROKER_PIDS[1]}"
cargo bench --locked --bench replicate
