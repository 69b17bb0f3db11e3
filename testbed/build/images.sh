#!/usr/bin/env bash
# Assemble every container image the test bed needs, from the cached build outputs, with docker import
# (no registry, no base image pulls), and save them to one archive for preloading into the node image.
# usage: images.sh CACHE_DIR KEY OUT_TAR IMAGES_JSON
#   KEY tags the test bed's own images (netd, helpers); IMAGES_JSON receives the workload image refs.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TB=$(dirname "$HERE")
# shellcheck disable=SC1091
source "$HERE/versions.sh"; source "$HERE/rootfs-sets.env"
CACHE=${1:?}; KEY=${2:?}; OUT=${3:?}; IMAGES_JSON=${4:?}
KBIN=$CACHE/kubernetes-$KUBERNETES_VERSION/bin
COMP=$CACHE/components
rootfs() { echo "$CACHE/rootfs/$1-$(eval echo "\${ROOTFS_${1^^}}" | sha256sum | cut -c1-12).tar"; }
STAGE=$(mktemp -d); trap 'rm -rf "$STAGE"' EXIT
refs=()

# import TAG DIR [--change ...]: DIR's content becomes the image's single layer
import() {
  local tag=$1 dir=$2; shift 2
  tar --numeric-owner --xattrs --acls -C "$dir" -cf - . | docker import "$@" - "$tag" >/dev/null
  refs+=("$tag")
}
# fresh DIR holding ROOTFS_TAR (or empty) plus /tmp
stage() {
  local d=$STAGE/$1; rm -rf "$d"; mkdir -p "$d/tmp"; chmod 1777 "$d/tmp"
  [ -n "${2:-}" ] && tar -C "$d" --numeric-owner -xf "$2"
  echo "$d"
}
binimage() { # binimage TAG BINARY... : static binaries in /usr/local/bin of an otherwise empty image
  local tag=$1 d; shift; d=$(stage "bin-$(basename "$1")")
  mkdir -p "$d/usr/local/bin" "$d/etc"
  for b in "$@"; do install -m 0755 "$b" "$d/usr/local/bin/"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$d/etc/passwd"; echo 'nobody:x:65534:65534::/:/bin/sh' >>"$d/etc/passwd"
  import "$tag" "$d" --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change "ENTRYPOINT [\"/usr/local/bin/$(basename "$1")\"]"
}

# --- what kubeadm runs (names exactly as `kubeadm config images list` prints them)
# The selected row of testbed/versions.ts must name exactly what this kubeadm asks for: a wrong pin fails
# here, not as an image pull that can never succeed during `kubeadm init`.
pinned=$(printf '%s\n' "registry.k8s.io/kube-apiserver:$KUBERNETES_VERSION" \
  "registry.k8s.io/kube-controller-manager:$KUBERNETES_VERSION" "registry.k8s.io/kube-scheduler:$KUBERNETES_VERSION" \
  "registry.k8s.io/kube-proxy:$KUBERNETES_VERSION" "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" \
  "registry.k8s.io/pause:$PAUSE_IMAGE_TAG" "registry.k8s.io/etcd:$ETCD_IMAGE_TAG" | sort)
listed=$("$KBIN/kubeadm" config images list --kubernetes-version "$KUBERNETES_VERSION" 2>/dev/null | sort)
[ "$pinned" = "$listed" ] || {
  echo "testbed/versions.ts pins for $KUBERNETES_VERSION differ from kubeadm config images list:" >&2
  diff <(echo "$pinned") <(echo "$listed") >&2; exit 1
}
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  binimage "registry.k8s.io/$c:$KUBERNETES_VERSION" "$KBIN/$c"
done
d=$(stage kube-proxy "$(rootfs net)"); install -m 0755 "$KBIN/kube-proxy" "$d/usr/local/bin/"
import "registry.k8s.io/kube-proxy:$KUBERNETES_VERSION" "$d" --change 'ENTRYPOINT ["/usr/local/bin/kube-proxy"]'
binimage "registry.k8s.io/etcd:$ETCD_IMAGE_TAG" "$COMP/etcd-$ETCD_VERSION/etcd" "$COMP/etcd-$ETCD_VERSION/etcdctl"
d=$(stage coredns); install -m 0755 "$COMP/coredns-$COREDNS_VERSION/coredns" "$d/coredns"
import "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" "$d" --change 'ENTRYPOINT ["/coredns"]'
# pause: Debian's static catatonit in pause mode (sleeps, reaps zombies as PID 1)
d=$(stage pause); install -m 0755 /usr/bin/catatonit "$d/catatonit"
import "registry.k8s.io/pause:$PAUSE_IMAGE_TAG" "$d" --change 'ENTRYPOINT ["/catatonit", "-P"]'

# --- the test bed's own add-ons
d=$(stage netd "$(rootfs net)")
install -m 0755 "$KBIN/kubectl" "$d/usr/local/bin/kubectl"; install -m 0755 "$TB/images/netd/netd.sh" "$d/usr/local/bin/netd"
import "koc.local/netd:$KEY" "$d" --change 'ENTRYPOINT ["/usr/local/bin/netd"]'
binimage "koc.local/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION" \
  "$COMP/local-path-provisioner-$LOCAL_PATH_PROVISIONER_VERSION/local-path-provisioner"
# busybox: Debian's dynamic build (the static one's wget crashes in glibc's resolver) with just the
# libraries it links, its applets linked in /bin
d=$(stage busybox); n=$(stage busybox-src "$(rootfs net)")
mkdir -p "$d/bin" "$d/etc" "$d/root"
cp -a "$n/bin/busybox" "$d/bin/busybox"
for lib in $(chroot "$n" ldd /bin/busybox | grep -oE '/[^ ]+\.so[^ ]*'); do
  mkdir -p "$d$(dirname "$lib")"; cp -aL "$n$lib" "$d$lib"
done
for a in $("$n/bin/busybox" --list 2>/dev/null || chroot "$n" /bin/busybox --list); do
  [ -e "$d/bin/$a" ] || ln -s busybox "$d/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n' >"$d/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$d/etc/group"
printf 'hosts: files dns\n' >"$d/etc/nsswitch.conf"
bbver=$(chroot "$n" /bin/busybox 2>&1 || true); bbver=$(sed -nE '1s/^BusyBox v([0-9.]+).*/\1/p' <<<"$bbver")
import "koc.local/local-path-helper:$bbver" "$d" --change 'CMD ["sh"]'
import "koc.local/busybox:$bbver" "$d" --change 'CMD ["sh"]'
workload_busybox="koc.local/busybox:$bbver"

# --- workload images for the suites, built like their public counterparts (paths, ports, logs)
d=$(stage app "$(rootfs app)")
ngxver=$(awk '/^Package: nginx-light$/{p=1} p && /^Version:/{print $2; exit}' "$d/var/lib/dpkg/status" | cut -d- -f1)
curlver=$(awk '/^Package: curl$/{p=1} p && /^Version:/{print $2; exit}' "$d/var/lib/dpkg/status" | cut -d- -f1)
[ -n "$ngxver" ] && [ -n "$curlver" ] || { echo "cannot read nginx/curl versions from the app rootfs" >&2; exit 1; }
import "koc.local/curl:$curlver" "$d" --change 'ENTRYPOINT ["curl"]'
workload_curl="koc.local/curl:$curlver"
# nginx laid out as the official image: /etc/nginx/conf.d/*.conf, html in /usr/share/nginx/html, logs to stdout
rm -f "$d/etc/nginx/sites-enabled/"*
mkdir -p "$d/usr/share/nginx/html" "$d/etc/nginx/conf.d"
sed -i 's#include /etc/nginx/sites-enabled/\*;##' "$d/etc/nginx/nginx.conf"
cat >"$d/etc/nginx/conf.d/default.conf" <<'CONF'
server {
    listen 80;
    listen [::]:80;
    server_name localhost;
    location / {
        root /usr/share/nginx/html;
        index index.html index.htm;
    }
}
CONF
printf '<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head>\n<body><h1>Welcome to nginx!</h1></body></html>\n' \
  >"$d/usr/share/nginx/html/index.html"
ln -sf /dev/stdout "$d/var/log/nginx/access.log"; ln -sf /dev/stderr "$d/var/log/nginx/error.log"
# two releases with the same nginx, told apart by /etc/koc-image-release: set-image rollouts need two tags
for r in 1 2; do
  echo "$r" >"$d/etc/koc-image-release"
  import "koc.local/nginx:$ngxver-r$r" "$d" --change 'CMD ["nginx", "-g", "daemon off;"]' --change 'EXPOSE 80'
done
# the probers' runtime: Debian's Node.js runs helpers/traffic/probe-loop.mjs (the same file the host runs)
d=$(stage prober "$(rootfs prober)")
nodever=$(awk '/^Package: nodejs$/{p=1} p && /^Version:/{print $2; exit}' "$d/var/lib/dpkg/status" | cut -d+ -f1 | cut -d- -f1)
[ -n "$nodever" ] || { echo "cannot read the nodejs version from the prober rootfs" >&2; exit 1; }
import "koc.local/nodejs:$nodever" "$d" --change 'CMD ["node"]'
workload_nodejs="koc.local/nodejs:$nodever"
cat >"$IMAGES_JSON" <<JSON
{
  "nginx": "koc.local/nginx:$ngxver-r1",
  "nginxNext": "koc.local/nginx:$ngxver-r2",
  "busybox": "$workload_busybox",
  "curl": "$workload_curl",
  "nodejs": "$workload_nodejs"
}
JSON
docker save -o "$OUT.tmp" "${refs[@]}"
docker rmi "${refs[@]}" >/dev/null # the archive is what the node image preloads: no second copy in docker
mv "$OUT.tmp" "$OUT"
printf '%s\n' "${refs[@]}" >"$OUT.list"
echo "images: ${#refs[@]} saved to $OUT ($(du -h "$OUT" | cut -f1))"
