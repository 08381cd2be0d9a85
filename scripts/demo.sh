#!/usr/bin/env bash
# The main job on a local default: starts local Kafka clusters (Apache Kafka 4.3.1 from Maven
# Central, one KRaft node each; A and B are used), writes a few records to topic `orders` on A,
# and runs connect-mirror-maker on mm2.properties.example (A->B), with the clusters' addresses
# given as environment overrides. Prints what arrives on B as `A.orders`, then keeps
# replicating until Ctrl-C (DEMO_SECONDS=N stops it after N seconds).
source "$(dirname "${BASH_SOURCE[0]}")/kafka.sh"
cd "$ROOT"
install_deps
cargo build --release --locked --bin connect-mirror-maker
start_brokers

kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP_A" --create \
  --topic orders --partitions 3 >/dev/null
for i in 1 2 3 4 5; do
  printf 'order-%s\t{"id": %s, "item": "book"}\n' "$i" "$i"
done | kafka_tool org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$BOOTSTRAP_A" \
  --topic orders --reader-property parse.key=true --reader-property 'key.separator=	'
log "wrote 5 records to orders on A"

export MM2_A_BOOTSTRAP_SERVERS="$BOOTSTRAP_A" MM2_B_BOOTSTRAP_SERVERS="$BOOTSTRAP_B"
export MM2_LISTENERS="http://127.0.0.1:${DEMO_PORT:-8083}"
# One broker per cluster: internal topics with one replica.
export MM2_REPLICATION_FACTOR=1 MM2_OFFSET_SYNCS_TOPIC_REPLICATION_FACTOR=1
export MM2_CHECKPOINTS_TOPIC_REPLICATION_FACTOR=1 MM2_HEARTBEATS_TOPIC_REPLICATION_FACTOR=1
export MM2_OFFSET_STORAGE_REPLICATION_FACTOR=1 MM2_CONFIG_STORAGE_REPLICATION_FACTOR=1
export MM2_STATUS_STORAGE_REPLICATION_FACTOR=1
RUST_LOG="${RUST_LOG:-info}" target/release/connect-mirror-maker mm2.properties.example &
MM2_PID=$!
trap 'kill -TERM $MM2_PID 2>/dev/null; wait $MM2_PID; stop_brokers' EXIT

out="$(kafka_tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$BOOTSTRAP_B" \
  --topic A.orders --from-beginning --max-messages 5 --timeout-ms 120000 \
  --formatter-property print.key=true 2>/dev/null || true)"
log "A.orders on B:"
echo "$out"
log "metrics: curl http://127.0.0.1:${DEMO_PORT:-8083}/metrics"
log "status:  curl http://127.0.0.1:${DEMO_PORT:-8083}/connectors?expand=status"
if [ -n "${DEMO_SECONDS:-}" ]; then
  sleep "$DEMO_SECONDS"
else
  log "replicating; Ctrl-C to stop"
  wait "$MM2_PID"
fi
