#!/usr/bin/env bash
# The tools tests/deploy checks deploy/ with, kept under .tools/ (sourced by test.sh after
# kafka.sh, or run as `scripts/deploy-tools.sh` alone):
#   .tools/prometheus/usr/bin/promtool   from Debian's prometheus package, unpacked, not installed,
#                                        so that no Prometheus service is started
#   .tools/deploy-venv                   Python with scripts/deploy-requirements.txt:
#                                        kubernetes-validate and the Prometheus Operator's models
# Downloads are kept in .tools/debs and .tools/deploy-wheels. kubectl comes from install_deps.
set -euo pipefail
[ -n "${TOOLS:-}" ] || source "$(dirname "${BASH_SOURCE[0]}")/kafka.sh"

# promtool_install: Debian's prometheus .deb, downloaded once and unpacked into .tools/prometheus.
promtool_install() {
  local debs="$TOOLS/debs" home="$TOOLS/prometheus" deb
  [ -x "$home/usr/bin/promtool" ] && return
  mkdir -p "$debs"
  deb="$(ls "$debs"/prometheus_*.deb 2>/dev/null | head -1 || true)"
  if [ -z "$deb" ]; then
    log "downloading Debian's prometheus package for promtool into $debs"
    # apt-get download needs the package lists, which a fresh machine may not have yet.
    (cd "$debs" && apt-get download -qq prometheus 2>/dev/null) ||
      { as_root apt-get update -qq && (cd "$debs" && apt-get download -qq prometheus); }
    deb="$(ls "$debs"/prometheus_*.deb | head -1)"
  fi
  rm -rf "$home.part" && mkdir -p "$home.part"
  dpkg-deb -x "$deb" "$home.part"
  mv "$home.part" "$home"
}

# deploy_venv_install: .tools/deploy-venv with the pinned requirements, rebuilt when they change.
deploy_venv_install() {
  local venv="$TOOLS/deploy-venv" req="$ROOT/scripts/deploy-requirements.txt" want
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  [ "$(cat "$venv/requirements.sha" 2>/dev/null)" = "$want" ] && return
  log "installing $(grep -c '==' "$req") Python packages for the deploy checks into $venv"
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-venv >/dev/null
  fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  # Wheels are kept in .tools/deploy-wheels (pip download reuses the files already there), and
  # installed from that folder alone.
  "$venv/bin/pip" download -q -d "$TOOLS/deploy-wheels" -r "$req" >&2
  "$venv/bin/pip" install -q --no-index --find-links "$TOOLS/deploy-wheels" -r "$req" >&2
  echo "$want" >"$venv/requirements.sha"
}

deploy_tools_install() {
  promtool_install
  deploy_venv_install
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  deploy_tools_install
fi
