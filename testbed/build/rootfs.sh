#!/usr/bin/env bash
# Build a Debian rootfs tarball with debootstrap (minbase) plus the named packages, upgraded from the
# point-release and security suites. Inputs come only from the host's Debian mirror.
# usage: rootfs.sh OUT_TAR PKG[,PKG...]     (OUT_TAR is written atomically; .deb files cached beside it)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC1091
source "$HERE/versions.sh"
OUT=${1:?usage: rootfs.sh OUT_TAR PKGS}; PKGS=${2:?usage: rootfs.sh OUT_TAR PKGS}
[ -f "$OUT" ] && { echo "rootfs $(basename "$OUT"): cached"; exit 0; }
S=$DEBIAN_SUITE
# the host's apt sources name the mirrors (deb822 first, then a classic sources.list)
apt_uri() {
  { awk -v want="$S$1" '/^URIs:/{u=$2} /^Suites:/{for(i=2;i<=NF;i++) if($i==want){print u; exit}}' \
      /etc/apt/sources.list.d/*.sources 2>/dev/null || true
    awk -v want="$S$1" '$1=="deb" && $3==want {print $2}' /etc/apt/sources.list 2>/dev/null || true; } | head -n 1
}
MIRROR=${MIRROR:-$(apt_uri "")}
SECMIRROR=${SECMIRROR:-$(apt_uri "-security")}
[ -n "$MIRROR" ] || { echo "no Debian mirror found in the apt sources; set MIRROR" >&2; exit 2; }
[ -n "$SECMIRROR" ] || SECMIRROR=$MIRROR
CACHE=$(dirname "$OUT")/debcache; mkdir -p "$CACHE"
ROOT=$(mktemp -d "$(dirname "$OUT")/rootfs.XXXXXX")
cleanup() { umount "$ROOT/proc" 2>/dev/null || true; rm -rf "$ROOT"; }
trap cleanup EXIT
t0=$(date +%s)
debootstrap --variant=minbase --cache-dir="$CACHE" --include="$PKGS" "$S" "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 ||
  { tail -n 30 "$ROOT.log" >&2; exit 1; }
rm -f "$ROOT/etc/apt/sources.list"
cat >"$ROOT/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $MIRROR
Suites: $S $S-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECMIRROR
Suites: $S-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"; chmod +x "$ROOT/usr/sbin/policy-rc.d"
mount -t proc proc "$ROOT/proc"
chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive sh -c \
  'apt-get -q update && apt-get -qy -o Dpkg::Options::=--force-confold upgrade && apt-get clean' >>"$ROOT.log" 2>&1 ||
  { tail -n 30 "$ROOT.log" >&2; exit 1; }
umount "$ROOT/proc"
rm -f "$ROOT/usr/sbin/policy-rc.d"
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* \
       "$ROOT"/usr/share/info/* "$ROOT"/usr/share/locale/* "$ROOT"/var/log/*.log "$ROOT"/tmp/* "$ROOT"/var/tmp/*
tar --numeric-owner --xattrs --acls -C "$ROOT" -cf "$OUT.tmp" .
mv "$OUT.tmp" "$OUT"; rm -f "$ROOT.log"
echo "rootfs $(basename "$OUT"): built in $(( $(date +%s) - t0 ))s, $(du -h "$OUT" | cut -f1)"
