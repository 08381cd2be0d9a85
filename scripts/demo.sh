#!/usr/bin/env bash
# The main job on a local default: starts two local brokers A and B, writes a few records to
# topic `orders` on A, and runs connect-mirror-maker on mm2.properties.example (A->B), with the
# brokers' addresses given as environment overrides. Prints what arrives on B as `A.orders`,
# then keeps replicating until Ctrl-C (DEMO_SECONDS=N stops it after N seconds).
source "$(dirname "${BASH_SOURCE[0]}")/brokers.sh"
cd "$ROOT"
install_build_deps
cargo build --release --locked --bin connect-mirror-maker
start_brokers

RUST_LOG=error "$TANSU" topic create orders --broker "tcp://$BOOTSTRAP_A" --partitions 3 >/dev/null
for i in 1 2 3 4 5; do
  printf '{"key": "order-%s", "value": {"id": %s, "item": "book"}}\n' "$i" "$i"
done | RUST_LOG=error "$TANSU" cat produce orders --broker "tcp://$BOOTSTRAP_A" >/dev/null
log "wrote 5 records to orders on A"

export MM2_A_BOOTSTRAP_SERVERS="$BOOTSTRAP_A" MM2_B_BOOTSTRAP_SERVERS="$BOOTSTRAP_B"
export MM2_LISTENERS="http://127.0.0.1:${DEMO_PORT:-8083}"
# tansu takes about 20 s to form a consumer group at Kafka's default timeouts, 3 s at these.
export MM2_B_SESSION_TIMEOUT_MS=6000 MM2_B_HEARTBEAT_INTERVAL_MS=1000
RUST_LOG="${RUST_LOG:-info}" target/release/connect-mirror-maker mm2.properties.example &
MM2_PID=$!
trap 'kill -TERM $MM2_PID 2>/dev/null; wait $MM2_PID; stop_brokers' EXIT

for _ in $(seq 1 60); do
  out="$(RUST_LOG=error timeout 3 "$TANSU" cat consume A.orders --broker "tcp://$BOOTSTRAP_B" 2>/dev/null || true)"
  if [ "$(grep -o '"key"' <<<"$out" | wc -l)" -ge 5 ]; then break; fi
  sleep 1
done
log "A.orders on B: $out"
log "metrics: curl http://127.0.0.1:${DEMO_PORT:-8083}/metrics"
log "status:  curl http://127.0.0.1:${DEMO_PORT:-8083}/connectors?expand=status"
if [ -n "${DEMO_SECONDS:-}" ]; then
  sleep "$DEMO_SECONDS"
else
  log "replicating; Ctrl-C to stop"
  wait "$MM2_PID"
fi
