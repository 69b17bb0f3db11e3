#!/bin/bash
# The test bed's Ceph, run inside its container (host network, every daemon bound to the kind network's
# host address only): one monitor (a), one manager (x), one BlueStore OSD (0) on a sparse file, one MDS (a)
# and the CephFS `cephfs`. All state lives in $D, a directory of the test bed cache bind-mounted here.
#
#   koc-ceph up IP SUBNET PORT   create the cluster when $D is empty (or was made for another address),
#                                start every daemon that is not running, wait until each is healthy
#   koc-ceph health              each daemon judged by its own state: monitor in quorum, manager active,
#                                OSD active and up, MDS up:active; exit 1 with "<daemon>: ... read <log>"
#   koc-ceph status              health plus `ceph -s`
#   koc-ceph client-conf         the nodes' ceph.conf (their keyring is keys/ceph.client.k8s.keyring)
#
# Ports: PORT (msgr2) and PORT+1 (msgr1) for the monitor, PORT+10..PORT+99 for the other daemons, so
# test beds with different ports share one host address.
set -euo pipefail
D=/var/lib/koc-ceph
CONF=$D/ceph.conf
LOG=${KOC_CEPH_LOG_HINT:-$D/log}
DAEMONS=(mon.a mgr.x osd.0 mds.a)
# every command that talks to the cluster is bounded: a dead daemon must never hang the caller
ceph() { timeout 20 /usr/bin/ceph --connect-timeout 10 -c "$CONF" "$@"; }
asok() { timeout 10 /usr/bin/ceph -c "$CONF" daemon "$1" "${@:2}"; }

fail() { echo "$1: $2; read $LOG/ceph-$1.log" >&2; exit 1; }

pid_of() { cat "$D/run/ceph-$1.pid" 2>/dev/null || true; }
# a pid file outlives its daemon (and, in a new container, may name another process): check the name too
running() { local p; p=$(pid_of "$1"); [ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "ceph-${1%%.*}" ]; }

# wait_for DAEMON SECONDS WHAT COMMAND...: poll COMMAND until it succeeds (1 s infrastructure poll)
wait_for() {
  local d=$1 s=$2 what=$3; shift 3
  local end=$((SECONDS + s))
  until "$@" >/dev/null 2>&1; do
    running "$d" || fail "$d" "exited while waiting for $what"
    [ $SECONDS -lt $end ] || fail "$d" "not $what after ${s}s"
    sleep 1
  done
}

mon_in_quorum() { asok mon.a mon_status | grep -Eq '"state": *"(leader|peon)"'; }
mgr_active() {
  local s; s=$(ceph mgr stat | tr -d ' \n')
  [[ $s == *'"available":true'* && $s == *'"active_name":"x"'* ]]
}
osd_active() { asok osd.0 status | grep -Eq '"state": *"active"' && ceph osd dump | grep -Eq '^osd\.0 up +in'; }
mds_active() { asok mds.a status | grep -Eq '"state": *"up:active"'; }

write_conf() { # write_conf FSID IP SUBNET PORT
  local fsid=$1 ip=$2 subnet=$3 port=$4
  sed -e "s#@FSID@#$fsid#" -e "s#@IP@#$ip#g" -e "s#@SUBNET@#$subnet#" -e "s#@D@#$D#g" \
      -e "s#@P2@#$port#" -e "s#@P1@#$((port + 1))#" -e "s#@PMIN@#$((port + 10))#" -e "s#@PMAX@#$((port + 99))#" \
      /usr/local/share/koc-ceph/ceph.conf.in >"$CONF"
}

start() { # start DAEMON: remove what a killed instance left behind, then start it (it daemonizes)
  local d=$1 type=${1%%.*} id=${1#*.}
  rm -f "$D/run/ceph-$d.asok" "$D/run/ceph-$d.pid"
  "ceph-$type" -c "$CONF" -i "$id" >>"$D/log/start.log" 2>&1 || fail "$d" "did not start"
}

bootstrap() { # bootstrap IP SUBNET PORT: a new cluster in an empty $D
  local ip=$1 subnet=$2 port=$3 fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  mkdir -p "$D"/{keys,run,log,mon/ceph-a,mgr/ceph-x,osd/ceph-0,mds/ceph-a}
  write_conf "$fsid" "$ip" "$subnet" "$port"
  local mk=$D/keys/ceph.mon.keyring
  ceph-authtool --create-keyring "$mk" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$D/keys/ceph.client.admin.keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$mk" --import-keyring "$D/keys/ceph.client.admin.keyring" >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:$ip:$port,v1:$ip:$((port + 1))]" "$D/keys/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$D/keys/monmap" --keyring "$mk" >>"$D/log/start.log" 2>&1 ||
    fail mon.a "mkfs failed (see also $LOG/start.log)"
  start mon.a; wait_for mon.a 60 "in quorum" mon_in_quorum

  ceph auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' >"$D/mgr/ceph-x/keyring"
  start mgr.x

  local uuid secret
  uuid=$(cat /proc/sys/kernel/random/uuid); secret=$(ceph-authtool --gen-print-key)
  echo "{\"cephx_secret\": \"$secret\"}" | ceph osd new "$uuid" -i - >/dev/null
  ceph-authtool --create-keyring "$D/osd/ceph-0/keyring" --name osd.0 --add-key "$secret" >/dev/null
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$uuid" >>"$D/log/start.log" 2>&1 ||
    fail osd.0 "mkfs failed (see also $LOG/start.log)"
  start osd.0

  ceph auth get-or-create mds.a mon 'allow profile mds' osd 'allow rwx' mds 'allow *' mgr 'allow profile mds' \
    >"$D/mds/ceph-a/keyring"
  start mds.a
  wait_for osd.0 120 "active and up" osd_active
  ceph osd pool create cephfs_metadata 8 >/dev/null
  ceph osd pool create cephfs_data 16 >/dev/null
  ceph fs new cephfs cephfs_metadata cephfs_data >/dev/null
  ceph fs set cephfs standby_count_wanted 0
  # the nodes' client: read-write on the whole file system, nothing else
  ceph fs authorize cephfs client.k8s / rw >"$D/keys/ceph.client.k8s.keyring"
  echo "$fsid" >"$D/bootstrapped"
}

up() {
  local ip=${1:?ip} subnet=${2:?subnet} port=${3:?port}
  mkdir -p /etc/ceph && ln -sf "$CONF" /etc/ceph/ceph.conf
  if [ -f "$D/bootstrapped" ] && ! grep -q "^mon host = \[v2:$ip:$port," "$CONF"; then
    echo "the cluster in $D was made for another address or port: starting afresh"
    for d in "${DAEMONS[@]}"; do running "$d" && kill -9 "$(pid_of "$d")"; done
    find "$D" -mindepth 1 -delete
  fi
  if [ ! -f "$D/bootstrapped" ]; then
    for d in "${DAEMONS[@]}"; do running "$d" && kill -9 "$(pid_of "$d")"; done
    find "$D" -mindepth 1 -delete # a half-made cluster from an interrupted bootstrap
    bootstrap "$ip" "$subnet" "$port"
  fi
  write_conf "$(cat "$D/bootstrapped")" "$ip" "$subnet" "$port" # the current template
  # the order matters: everything else needs the monitor, the MDS needs the OSD
  # generous deadlines: on a busy 2-core machine the manager's Python modules alone can take minutes
  running mon.a || start mon.a
  wait_for mon.a 120 "in quorum" mon_in_quorum
  running mgr.x || start mgr.x
  running osd.0 || start osd.0
  wait_for osd.0 300 "active and up" osd_active
  running mds.a || start mds.a
  wait_for mds.a 300 "up:active" mds_active
  wait_for mgr.x 300 "the active manager" mgr_active
  health
}

health() {
  for d in "${DAEMONS[@]}"; do running "$d" || fail "$d" "not running"; done
  mon_in_quorum || fail mon.a "not in quorum"
  mgr_active || fail mgr.x "not the active manager"
  osd_active || fail osd.0 "not active and up"
  mds_active || fail mds.a "not up:active"
  echo "mon.a in quorum, mgr.x active, osd.0 active and up, mds.a up:active ($(ceph health))"
}

client_conf() {
  cat <<CONF
# written by the test bed's cluster:up for koc-cephfs.service
[global]
fsid = $(cat "$D/bootstrapped")
mon host = $(sed -n 's/^mon host = //p' "$CONF")
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
[client]
keyring = /etc/ceph/koc-cephfs.keyring
log file = /var/log/koc-cephfs.log
admin socket = /run/koc-cephfs.asok
# a Ceph that is down makes the mount fail (and systemd retry) instead of waiting for five minutes
client mount timeout = 30
CONF
}

case ${1:-} in
  up) shift; up "$@" ;;
  health) health ;;
  status) health || true; ceph -s ;;
  client-conf) client_conf ;;
  *) echo "usage: koc-ceph up IP SUBNET PORT | health | status | client-conf" >&2; exit 2 ;;
esac
