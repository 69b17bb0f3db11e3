#!/usr/bin/env bash
# Make sure a Docker engine that can run kind's privileged nodes is up on this host.
# - installs Debian's docker.io (and the tools the build needs) when missing
# - installs runc-capfilter as dockerd's default runtime (drops capabilities missing from the host's
#   bounding set, e.g. CAP_SYS_RESOURCE, which plain runc cannot apply to --privileged containers)
# - starts dockerd when no engine answers; restarts it when it runs without the wrapper
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
log() { echo "[docker] $*"; }
need_pkgs=()
command -v dockerd >/dev/null || need_pkgs+=(docker.io)
command -v jq >/dev/null || need_pkgs+=(jq)
command -v debootstrap >/dev/null || need_pkgs+=(debootstrap)
[ -x /bin/busybox ] && busybox --help 2>/dev/null | grep -q 'statically linked' || [ -f /usr/share/doc/busybox-static/copyright ] || need_pkgs+=(busybox-static)
[ -x /usr/bin/catatonit ] || need_pkgs+=(catatonit)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_pkgs[@]}" >/dev/null
fi
install -D -m 0755 "$HERE/runc-capfilter" /usr/local/sbin/runc-capfilter
if ! cmp -s "$HERE/daemon.json" /etc/docker/daemon.json 2>/dev/null; then
  install -D -m 0644 "$HERE/daemon.json" /etc/docker/daemon.json
  changed=1
fi
running() { docker info >/dev/null 2>&1; }
if running && [ "$(docker info -f '{{.DefaultRuntime}}')" = runc-capfilter ] && [ -z "${changed:-}" ]; then
  log "engine up, default runtime runc-capfilter"; exit 0
fi
D=$(pgrep -x dockerd || true)
if [ -n "$D" ]; then
  log "restarting dockerd ($D) with the runtime wrapper"
  kill -TERM "$D"
  for _ in $(seq 100); do kill -0 "$D" 2>/dev/null || break; sleep 0.2; done
fi
# the host systemd (if any) may own docker; otherwise start it ourselves, detached from this session
if [ -d /run/systemd/system ] && systemctl list-unit-files docker.service >/dev/null 2>&1; then
  systemctl restart docker
else
  # the highest hard NOFILE we may have, so node processes get as many open files as possible
  ulimit -n "$(ulimit -Hn)" || true
  setsid dockerd >"${DOCKERD_LOG:-/var/log/dockerd.log}" 2>&1 </dev/null &
fi
for _ in $(seq 150); do running && break; sleep 0.2; done
running || { echo "dockerd did not start; see ${DOCKERD_LOG:-/var/log/dockerd.log}" >&2; exit 1; }
rt=$(docker info -f '{{.DefaultRuntime}}')
[ "$rt" = runc-capfilter ] || { echo "dockerd default runtime is $rt, expected runc-capfilter" >&2; exit 1; }
log "engine up, default runtime $rt"
