#!/usr/bin/env bash
# The test bed's Ceph image: a Debian rootfs with bookworm's Ceph daemons (built by ../build/rootfs.sh,
# which keeps the downloaded .deb files in its cache for offline rebuilds) plus koc-ceph.sh, imported
# without any registry. Prints the image tag; an existing image of the same inputs is reused.
# usage: image.sh CACHE_DIR
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${1:?usage: image.sh CACHE_DIR}
# python3-cffi-backend: debootstrap does not resolve the virtual package python3-cryptography needs
PKGS=ceph-mon,ceph-mgr,ceph-osd,ceph-mds,ceph-common,python3-cffi-backend,catatonit,procps
key=$({ echo "$PKGS"; cat "$HERE/koc-ceph.sh" "$HERE/ceph.conf.in"; } | sha256sum | cut -c1-12)
TAG=koc.local/ceph:$key
if docker image inspect "$TAG" >/dev/null 2>&1; then echo "$TAG"; exit 0; fi
ROOTFS=$CACHE/rootfs/ceph-$(echo "$PKGS" | sha256sum | cut -c1-12).tar
mkdir -p "$CACHE/rootfs"
bash "$HERE/../build/rootfs.sh" "$ROOTFS" "$PKGS" >&2
R=$(mktemp -d); trap 'rm -rf "$R"' EXIT
tar -C "$R" --numeric-owner -xf "$ROOTFS"
install -m 0755 "$HERE/koc-ceph.sh" "$R/usr/local/bin/koc-ceph"
mkdir -p "$R/usr/local/share/koc-ceph" && install -m 0644 "$HERE/ceph.conf.in" "$R/usr/local/share/koc-ceph/"
version=$(awk '/^Package: ceph-mon$/{p=1} p && /^Version:/{print $2; exit}' "$R/var/lib/dpkg/status")
[ -n "$version" ] || { echo "no ceph-mon in the Ceph rootfs" >&2; exit 1; }
# PID 1 only reaps: the daemons are started by `docker exec ... koc-ceph up` and daemonize
tar --numeric-owner --xattrs --acls -C "$R" -cf - . |
  docker import --change "LABEL org.opencontainers.image.version=$version" \
    --change 'ENTRYPOINT ["/usr/bin/catatonit", "-P"]' - "$TAG" >/dev/null
# older builds of this image are not kept
docker images koc.local/ceph --format '{{.Repository}}:{{.Tag}}' | grep -vx "$TAG" | xargs -r docker rmi >/dev/null 2>&1 || true
echo "$TAG"
