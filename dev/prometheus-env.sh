#!/usr/bin/env bash
# Installs Prometheus from Debian (the `prometheus` package: the server and promtool) for the monitoring
# tests, which start their own Prometheus on a free port with a temporary data directory. The package's
# own service is never left running or enabled: its starts are refused during the install (policy-rc.d)
# and it is stopped and disabled afterwards. Idempotent: with both binaries present it only checks that.
set -euo pipefail

log() { printf 'prometheus-env: %s\n' "$*" >&2; }

disable_service() {
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  elif [ -x /etc/init.d/prometheus ]; then
    # The init script stops only the daemon named in its own pid file.
    /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    command -v update-rc.d >/dev/null 2>&1 && update-rc.d prometheus disable >/dev/null 2>&1 || true
  fi
}

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] && disable_service
  exit 0
fi
[ "$(id -u)" = 0 ] || { log "prometheus is missing (the monitoring tests need it): sudo apt-get install -y --no-install-recommends prometheus"; exit 1; }

policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  # Refuse every service start while the package installs (exit 101: "action forbidden by policy").
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
log "installing prometheus (apt-get; its service stays stopped and disabled)"
apt-get update -qq >/dev/null
# Without recommends: the node exporter and its service are not needed.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
disable_service
command -v prometheus >/dev/null && command -v promtool >/dev/null || { log "prometheus or promtool missing after the install"; exit 1; }
