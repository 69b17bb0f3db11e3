#!/usr/bin/env bash
# Prepare this host's Docker engine for kind's privileged nodes. Run only when cluster:up decided it
# may (no engine at all, or --prepare-host), after it said what changes:
# - installs runc-capfilter as dockerd's default runtime (drops capabilities missing from the host's
#   bounding set, e.g. CAP_SYS_RESOURCE, which plain runc cannot apply to --privileged containers)
# - writes /etc/docker/daemon.json (the previous one is kept as daemon.json.before-k8s-ops-conformance)
# - starts dockerd, or restarts it when it runs
# - without systemd, gives the containers' cgroup the CPU weight of CPU_WEIGHT_THREADS busy host threads
#   (see below)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
log() { echo "[docker] $*"; }
install -D -m 0755 "$HERE/runc-capfilter" /usr/local/sbin/runc-capfilter
if ! cmp -s "$HERE/daemon.json" /etc/docker/daemon.json 2>/dev/null; then
  [ -f /etc/docker/daemon.json ] && cp -p /etc/docker/daemon.json /etc/docker/daemon.json.before-k8s-ops-conformance
  install -D -m 0644 "$HERE/daemon.json" /etc/docker/daemon.json
fi
running() { docker info >/dev/null 2>&1; }
LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
if ! command -v dockerd >/dev/null; then
  echo "no Docker engine installed: dockerd is not on PATH (Debian's docker.io provides it)" >&2
  exit 1
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
  setsid dockerd >"$LOG" 2>&1 </dev/null &
fi
for _ in $(seq 150); do running && break; sleep 0.2; done
if ! running; then
  last=$(grep -v '^\s*$' "$LOG" 2>/dev/null | tail -n 1)
  echo "the Docker engine did not start within 30 s: ${last:-its log $LOG is empty} (log: $LOG)" >&2
  exit 1
fi
rt=$(docker info -f '{{.DefaultRuntime}}')
[ "$rt" = runc-capfilter ] || { echo "dockerd default runtime is $rt, expected runc-capfilter" >&2; exit 1; }
log "engine up, default runtime $rt"

# Without systemd, every host process sits in the root CPU cgroup and competes one by one with the
# containers' cgroup as a whole, which has the weight of a single thread (cgroup v1 cpu.shares 1024,
# v2 cpu.weight 100). On a busy 2-core host (a build, an editor, the suite's own runner) the whole test
# bed, every node and pod, then gets a sliver of the CPU, and a prober pod stops for a second: a
# verdict that measured the host, not the cluster. Give the containers the weight of a few busy host
# threads instead. With systemd, docker.service's slice has its own weight and nothing is changed.
CPU_WEIGHT_THREADS=${CPU_WEIGHT_THREADS:-8}
if [ ! -d /run/systemd/system ]; then
  if [ -d /sys/fs/cgroup/cpu ]; then
    mkdir -p /sys/fs/cgroup/cpu/docker
    echo $((1024 * CPU_WEIGHT_THREADS)) >/sys/fs/cgroup/cpu/docker/cpu.shares
    log "containers' CPU weight: cpu.shares $(cat /sys/fs/cgroup/cpu/docker/cpu.shares) (a host thread has 1024)"
  elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    mkdir -p /sys/fs/cgroup/docker
    if echo $((100 * CPU_WEIGHT_THREADS)) >/sys/fs/cgroup/docker/cpu.weight 2>/dev/null; then
      log "containers' CPU weight: cpu.weight $(cat /sys/fs/cgroup/docker/cpu.weight) (a host thread has 100)"
    fi
  fi
fi
