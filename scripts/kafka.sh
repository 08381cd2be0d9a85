#!/usr/bin/env bash
# Real Apache Kafka for the tests, the demo and the benchmark, assembled from Maven Central.
#
# Sourced (by test.sh, demo.sh, bench.sh) it defines:
#   install_deps            Debian packages for the Rust build, Java 17 and Maven, where missing
#   kafka_install VERSION   the jars of Kafka VERSION (broker, tools, Java MirrorMaker 2) under
#                           .tools/kafka-VERSION/libs, cached; prints that folder
#   start_brokers           clusters A, B and C (Kafka 4.3.1, one KRaft node each) on free loopback
#                           ports; sets BOOTSTRAP_{A,B,C} (PLAINTEXT), BOOTSTRAP_{A,B,C}_SSL (mutual
#                           TLS) and BOOTSTRAP_{A,B,C}_SASL (SASL_SSL, SCRAM); stops them on EXIT
# Run as a command (tests/common does), it prepares and runs single nodes:
#   kafka.sh prepare DIR [VERSION] [secure]   write DIR/server.properties (free ports) and format
#                                             DIR/data; a prepared DIR is left as it is, so a node
#                                             keeps its data and ports across restarts
#   kafka.sh run DIR                          exec the node's JVM (logs: DIR/logs/server.log)
#   kafka.sh mirror-maker DIR mm2.properties [ARGS]   exec Java MirrorMaker 2 (logs: DIR/server.log)
#   kafka.sh connect-distributed DIR worker.properties   exec a Java Connect worker (logs: DIR)
#   kafka.sh java-program FILE.java [ARGS]    run a single-file Java program on Kafka's jars
#
# Every node has a PLAINTEXT listener. A `secure` node also has SSL (PEM keystore, client
# certificate required) and SASL_SSL (SCRAM-SHA-256 and -512, user $SCRAM_USER created at format
# time), and Kafka's StandardAuthorizer, with the PLAINTEXT (ANONYMOUS), TLS client and SCRAM
# principals as super users so that only ACLs a test writes for other principals matter.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_CONF="$ROOT/scripts/kafka"
TOOLS="${TOOLS_DIR:-$ROOT/.tools}"
KAFKA_VERSION=4.3.1
KAFKA_OLD_VERSION=3.9.1
# Test credentials (loopback brokers of one run; no secret of anyone's).
SCRAM_USER=mm2-client
SCRAM_PASSWORD=scram-pass-7f3a2d
CLIENT_KEY_PASSWORD=key-pass-1c5e9b
# Broker heap: Kafka's script gives 1 GiB; three nodes, Java MirrorMaker 2 and our tests share
# 2 cores and 24 GiB here.
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
BROKER_PIDS=()

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages: the rdkafka build (libssl for TLS and SCRAM), openssl for the test PKI, Java 17
# and Maven for Kafka, kubectl for the deploy checks. Installed only where missing.
install_deps() {
  local missing=() pkg
  for pkg in build-essential pkg-config libssl-dev curl openssl python3; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  # The JDK, not only the runtime: tests run single-file Java programs (JEP 330).
  command -v javac >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
  command -v mvn >/dev/null 2>&1 || missing+=(maven)
  # kubectl renders deploy/kubernetes (`kubectl kustomize`) in tests/deploy.
  command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# kafka_install VERSION: copies the runtime dependencies of scripts/kafka/pom-VERSION.xml into
# .tools/kafka-VERSION/libs (Maven's own cache in .tools/m2), once per pom; prints the folder.
kafka_install() {
  local version=$1 pom="$KAFKA_CONF/pom-$1.xml" home="$TOOLS/kafka-$1" want
  want="$(sha256sum "$pom" | cut -d' ' -f1)"
  if [ "$(cat "$home/pom.sha" 2>/dev/null)" != "$want" ]; then
    log "assembling Apache Kafka $version from Maven Central into $home"
    rm -rf "$home" && mkdir -p "$home"
    mvn -B -q -f "$pom" -Dmaven.repo.local="$TOOLS/m2" \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$home/libs.part" >&2
    mv "$home/libs.part" "$home/libs"
    echo "$want" >"$home/pom.sha"
  fi
  echo "$home"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# kafka_pki DIR: a test CA, a broker certificate for 127.0.0.1/localhost (broker.pem: PKCS#8 key
# and certificate in one file, Kafka's PEM keystore) and a client certificate with CN=mm2-client
# whose key is encrypted with $CLIENT_KEY_PASSWORD (client.pem), all valid for two days.
kafka_pki() {
  local dir=$1
  [ -f "$dir/client.pem" ] && return
  mkdir -p "$dir"
  (
    cd "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
      -subj /CN=mm2-test-ca -addext basicConstraints=critical,CA:TRUE 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
    local name cn
    for name in broker client; do
      cn=localhost
      [ "$name" = client ] && cn=mm2-client
      openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$cn" 2>/dev/null
      openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$name.crt" \
        -days 2 -extfile san.ext 2>/dev/null
    done
    cat broker.key broker.crt >broker.pem
    openssl pkcs8 -topk8 -in client.key -passout "pass:$CLIENT_KEY_PASSWORD" -out client.enc.key
    cat client.crt client.enc.key >client.pem
  )
}

# kafka_prepare DIR [VERSION] [secure]: see the header.
kafka_prepare() {
  local dir=$1 version=${2:-$KAFKA_VERSION} secure=${3:-}
  [ -f "$dir/data/meta.properties" ] && return
  mkdir -p "$dir/logs" "$dir/data"
  local home port cport listeners protocols
  home="$(kafka_install "$version")"
  port="$(free_port)" cport="$(free_port)"
  listeners="PLAINTEXT://127.0.0.1:$port"
  protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  echo "$version" >"$dir/version"
  echo "127.0.0.1:$port" >"$dir/bootstrap"
  {
    echo "process.roles=broker,controller"
    echo "node.id=1"
    echo "controller.quorum.voters=1@127.0.0.1:$cport"
    echo "controller.listener.names=CONTROLLER"
    echo "inter.broker.listener.name=PLAINTEXT"
    echo "log.dirs=$dir/data"
    # One node: every internal topic with one replica and one partition (__consumer_offsets
    # and the transaction log default to 50), no rebalance delay, no topic made by a fetch.
    echo "num.partitions=1"
    echo "default.replication.factor=1"
    echo "offsets.topic.replication.factor=1"
    echo "offsets.topic.num.partitions=1"
    echo "transaction.state.log.replication.factor=1"
    echo "transaction.state.log.min.isr=1"
    echo "transaction.state.log.num.partitions=1"
    echo "group.initial.rebalance.delay.ms=0"
    echo "auto.create.topics.enable=false"
    # The log cleaner's offset map is a 128 MiB heap buffer by default.
    echo "log.cleaner.dedupe.buffer.size=2097152"
    echo "num.network.threads=2"
    echo "num.io.threads=2"
    echo "num.recovery.threads.per.data.dir=1"
    if [ "${version%%.*}" -ge 4 ]; then
      echo "share.coordinator.state.topic.replication.factor=1"
      echo "share.coordinator.state.topic.min.isr=1"
    fi
    if [ -n "$secure" ]; then
      local ssl sasl pki="$dir/../pki"
      kafka_pki "$pki"
      pki="$(cd "$pki" && pwd)"
      ssl="$(free_port)" sasl="$(free_port)"
      listeners="$listeners,SSL://127.0.0.1:$ssl,SASL_SSL://127.0.0.1:$sasl"
      protocols="$protocols,SSL:SSL,SASL_SSL:SASL_SSL"
      echo "127.0.0.1:$ssl" >"$dir/ssl_bootstrap"
      echo "127.0.0.1:$sasl" >"$dir/sasl_bootstrap"
      echo "ssl.keystore.type=PEM"
      echo "ssl.keystore.location=$pki/broker.pem"
      echo "ssl.truststore.type=PEM"
      echo "ssl.truststore.location=$pki/ca.pem"
      echo "listener.name.ssl.ssl.client.auth=required"
      echo "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512"
      echo "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
      echo "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
      echo "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
      echo "super.users=User:ANONYMOUS;User:CN=mm2-client;User:$SCRAM_USER"
    fi
    echo "listeners=$listeners,CONTROLLER://127.0.0.1:$cport"
    # Every listener is on 127.0.0.1, so each advertises itself.
    echo "advertised.listeners=$listeners"
    echo "listener.security.protocol.map=$protocols"
  } >"$dir/server.properties"
  local id scram=()
  # A cluster id is 16 random bytes in URL-safe base64; `--cluster-id=` keeps one that starts
  # with '-' from reading as a flag.
  id="$(python3 -c 'import base64,uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode())')"
  if [ -n "$secure" ]; then
    scram=(--add-scram "SCRAM-SHA-256=[name=$SCRAM_USER,password=$SCRAM_PASSWORD]"
      --add-scram "SCRAM-SHA-512=[name=$SCRAM_USER,password=$SCRAM_PASSWORD]")
  fi
  java -Xmx256m "$(log_config "$version")" -Dkafka.logs.dir="$dir/logs" -cp "$home/libs/*" \
    kafka.tools.StorageTool format --cluster-id="$id" -c "$dir/server.properties" "${scram[@]}" \
    >"$dir/logs/format.log" 2>&1 || { cat "$dir/logs/format.log" >&2; return 1; }
}

# The JVM flag that points Kafka VERSION's logging at our file config.
log_config() {
  if [ "${1%%.*}" -ge 4 ]; then
    echo "-Dlog4j2.configurationFile=$KAFKA_CONF/log4j2.properties"
  else
    echo "-Dlog4j.configuration=file:$KAFKA_CONF/log4j.properties"
  fi
}

# The JVM options of Kafka's kafka-run-class.sh that matter for latency.
JVM_OPTS=(-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
  -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true)

# kafka_run DIR: replaces this shell with the node's JVM.
kafka_run() {
  local dir=$1 version home
  version="$(cat "$dir/version")"
  home="$(kafka_install "$version")"
  # shellcheck disable=SC2086
  exec java $KAFKA_HEAP_OPTS "${JVM_OPTS[@]}" "$(log_config "$version")" -Dkafka.logs.dir="$dir/logs" \
    -cp "$home/libs/*" kafka.Kafka "$dir/server.properties" >>"$dir/logs/stdout.log" 2>&1
}

# java_peer_run DIR MAIN_CLASS ARGS...: replaces this shell with a Java MirrorMaker 2 process of
# Kafka 4.3.1, with the heap connect-mirror-maker.sh sets (MM2_JAVA_HEAP overrides it), logging
# to DIR: Java MirrorMaker 2 itself (org.apache.kafka.connect.mirror.MirrorMaker, the main class
# of connect-mirror-maker.sh) or a Connect worker that runs its connectors as plugins
# (org.apache.kafka.connect.cli.ConnectDistributed, the main class of connect-distributed.sh).
java_peer_run() {
  local dir=$1 class=$2 home
  shift 2
  home="$(kafka_install "$KAFKA_VERSION")"
  mkdir -p "$dir"
  # shellcheck disable=SC2086
  exec java ${MM2_JAVA_HEAP:--Xms256m -Xmx2g} "${JVM_OPTS[@]}" "$(log_config "$KAFKA_VERSION")" \
    -Dkafka.logs.dir="$dir" -cp "$home/libs/*" "$class" "$@" >>"$dir/stdout.log" 2>&1
}

# kafka_tool CLASS ARGS...: runs one of Kafka 4.3.1's command-line tools (TopicCommand,
# ConsoleProducer, ProducerPerformance...), its own logging at WARN to stderr.
kafka_tool() {
  local home class=$1
  shift
  home="$(kafka_install "$KAFKA_VERSION")"
  java -Xmx512m -Dlog4j2.level=WARN -Dlog4j2.configurationFile=$KAFKA_CONF/tools-log4j2.properties \
    -cp "$home/libs/*" "$class" "$@"
}

# wait_started DIR PID: until the node logs that it started (KafkaBroker's "Kafka Server
# started", after it is unfenced and its listeners are open), or fails if it exits first.
wait_started() {
  local dir=$1 pid=$2 i
  for i in $(seq 1 600); do
    grep -q "Kafka Server started" "$dir/logs/server.log" 2>/dev/null && return 0
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  log "Kafka node in $dir did not start; its log:"
  tail -n 40 "$dir/logs/stdout.log" "$dir/logs/server.log" >&2 || true
  return 1
}

# warm_up DIR: makes the node create __consumer_offsets and __transaction_state now (it does on
# the first FindCoordinator of each kind), so no test's first group or transactional request
# waits for a coordinator to load, as Kafka's own EmbeddedKafkaCluster checks a cluster before
# its tests use it. (Both commands fail, on a group and a transactional id that do not exist.)
warm_up() {
  local bootstrap
  bootstrap="$(cat "$1/bootstrap")"
  kafka_tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
    --bootstrap-server "$bootstrap" --describe --group warm-up >/dev/null 2>&1 || true
  kafka_tool org.apache.kafka.tools.TransactionsCommand \
    --bootstrap-server "$bootstrap" describe --transactional-id warm-up >/dev/null 2>&1 || true
}

stop_brokers() {
  local pid f
  # Nodes that tests started themselves and left behind (a test process that was killed).
  for f in "$RUN_DIR"/own/*/pid; do
    [ -f "$f" ] && BROKER_PIDS+=("$(cat "$f")")
  done
  for pid in "${BROKER_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${BROKER_PIDS[@]:-}"; do
    [ -n "$pid" ] || continue
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  BROKER_PIDS=()
  rm -rf "$RUN_DIR"
}

start_brokers() {
  RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/mm2-kafka.XXXXXX")"
  export RUN_DIR
  trap stop_brokers EXIT
  trap 'exit 130' INT TERM
  kafka_install "$KAFKA_VERSION" >/dev/null
  kafka_pki "$RUN_DIR/pki"
  local name pids=()
  for name in A B C; do
    kafka_prepare "$RUN_DIR/$name" "$KAFKA_VERSION" secure
  done
  for name in A B C; do
    "$ROOT/scripts/kafka.sh" run "$RUN_DIR/$name" &
    BROKER_PIDS+=($!)
    pids+=($!)
  done
  local i=0 warm=()
  for name in A B C; do
    wait_started "$RUN_DIR/$name" "${pids[$i]}"
    i=$((i + 1))
    warm_up "$RUN_DIR/$name" &
    warm+=($!)
    printf -v "BOOTSTRAP_$name" '%s' "$(cat "$RUN_DIR/$name/bootstrap")"
    printf -v "BOOTSTRAP_${name}_SSL" '%s' "$(cat "$RUN_DIR/$name/ssl_bootstrap")"
    printf -v "BOOTSTRAP_${name}_SASL" '%s' "$(cat "$RUN_DIR/$name/sasl_bootstrap")"
  done
  wait "${warm[@]}"
  export BOOTSTRAP_A BOOTSTRAP_B BOOTSTRAP_C BOOTSTRAP_A_SSL BOOTSTRAP_B_SSL BOOTSTRAP_C_SSL
  export BOOTSTRAP_A_SASL BOOTSTRAP_B_SASL BOOTSTRAP_C_SASL
  log "Kafka $KAFKA_VERSION: A=$BOOTSTRAP_A B=$BOOTSTRAP_B C=$BOOTSTRAP_C (logs in $RUN_DIR)"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    prepare) shift && kafka_prepare "$@" ;;
    run) kafka_run "$2" ;;
    mirror-maker) java_peer_run "$2" org.apache.kafka.connect.mirror.MirrorMaker "${@:3}" ;;
    connect-distributed) java_peer_run "$2" org.apache.kafka.connect.cli.ConnectDistributed "${@:3}" ;;
    install) kafka_install "${2:-$KAFKA_VERSION}" ;;
    java-program)
      # A single-file Java program (JEP 330) against Kafka 4.3.1's jars, logging at WARN.
      shift
      home="$(kafka_install "$KAFKA_VERSION")"
      exec java -Xmx256m -Dlog4j2.configurationFile="$KAFKA_CONF/tools-log4j2.properties" \
        -cp "$home/libs/*" "$@"
      ;;
    *)
      echo "usage: $0 prepare DIR [VERSION] [secure] | run DIR | mirror-maker DIR mm2.properties [ARGS] | connect-distributed DIR worker.properties | install [VERSION] | java-program FILE.java [ARGS]" >&2
      exit 2
      ;;
  esac
fi
