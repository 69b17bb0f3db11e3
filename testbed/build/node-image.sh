#!/usr/bin/env bash
# Assemble the kind node image: Debian rootfs + Kubernetes binaries + the test bed's entrypoint, units and
# add-on manifests (written to kind's node-image contract), with every image the cluster and the suites
# need preloaded into containerd. No registry is involved: `kind build node-image` cannot work offline.
# usage: node-image.sh CACHE_DIR TAG IMAGES_TAR
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TB=$(dirname "$HERE")
# shellcheck disable=SC1091
source "$HERE/versions.sh"; source "$HERE/rootfs-sets.env"
CACHE=${1:?}; TAG=${2:?}; IMAGES_TAR=${3:?}
KBIN=$CACHE/kubernetes-$KUBERNETES_VERSION/bin
NODE_ROOTFS=$CACHE/rootfs/node-$(echo "$ROOTFS_NODE" | sha256sum | cut -c1-12).tar
KEY=${TAG##*-}
R=$(mktemp -d); trap 'rm -rf "$R"; docker rm -f -v "koc-build-$KEY" >/dev/null 2>&1 || true' EXIT
tar -C "$R" --numeric-owner -xf "$NODE_ROOTFS"

# systemd pruned the way kind's base image does: boot straight to multi-user with only what a node needs
find "$R/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
rm -f "$R"/lib/systemd/system/multi-user.target.wants/* "$R"/etc/systemd/system/*.wants/* \
      "$R"/lib/systemd/system/local-fs.target.wants/* "$R"/lib/systemd/system/sockets.target.wants/*udev* \
      "$R"/lib/systemd/system/sockets.target.wants/*initctl* "$R"/lib/systemd/system/basic.target.wants/*
echo "ReadKMsg=no" >>"$R/etc/systemd/journald.conf"
# udev in a privileged container would act on the host's devices
for u in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
         systemd-udev-trigger.service systemd-udev-settle.service systemd-binfmt.service; do
  ln -sf /dev/null "$R/etc/systemd/system/$u"
done

# the test bed's files, the runtime wrapper, Kubernetes and crictl
cp -a "$TB/node/files/." "$R/"
install -m 0755 "$TB/host/runc-capfilter" "$R/usr/local/sbin/runc-capfilter"
for b in kubeadm kubelet kubectl; do install -m 0755 "$KBIN/$b" "$R/usr/bin/$b"; done
install -m 0755 "$CACHE/components/crictl-$CRICTL_VERSION/crictl" "$R/usr/local/bin/crictl"
mkdir -p "$R/etc/systemd/system/multi-user.target.wants"
ln -sf /lib/systemd/system/containerd.service "$R/etc/systemd/system/multi-user.target.wants/containerd.service"
ln -sf /etc/systemd/system/kubelet.service "$R/etc/systemd/system/multi-user.target.wants/kubelet.service"
# the test bed's CephFS mount (it waits for the configuration cluster:up writes)
ln -sf /etc/systemd/system/koc-cephfs.service "$R/etc/systemd/system/multi-user.target.wants/koc-cephfs.service"
ln -sf /etc/systemd/system/koc-dns.service "$R/etc/systemd/system/multi-user.target.wants/koc-dns.service"
mkdir -p "$R/opt/cni" "$R/etc/cni/net.d" "$R/etc/kubernetes/manifests" "$R/var/lib/kubelet"
ln -sfn /usr/lib/cni "$R/opt/cni/bin"
: >"$R/etc/machine-id"; rm -f "$R/var/lib/dbus/machine-id"
echo kind-node >"$R/etc/hostname"

# kind's contract: /kind/version and the add-on manifests it applies
mkdir -p "$R/kind/manifests"
printf '%s' "$KUBERNETES_VERSION" >"$R/kind/version"
sed "s#docker.io/koc/netd:TESTBED_VERSION#koc.local/netd:$KEY#" "$TB/node/manifests/default-cni.yaml" \
  >"$R/kind/manifests/default-cni.yaml"
helper=$(grep -m1 '^koc.local/local-path-helper:' "$IMAGES_TAR.list")
sed -e "s#LOCAL_PATH_HELPER_IMAGE#$helper#g" \
    -e "s#LOCAL_PATH_IMAGE#koc.local/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION#g" \
    "$TB/node/manifests/default-storage.yaml" >"$R/kind/manifests/default-storage.yaml"
sed -i "s#registry.k8s.io/pause:PAUSE_IMAGE_TAG#registry.k8s.io/pause:$PAUSE_IMAGE_TAG#" "$R/etc/containerd/config.toml"
grep -q "sandbox_image = \"registry.k8s.io/pause:$PAUSE_IMAGE_TAG\"" "$R/etc/containerd/config.toml" ||
  { echo "containerd's sandbox_image does not name pause:$PAUSE_IMAGE_TAG" >&2; exit 1; }

docker rmi -f "$TAG-base" >/dev/null 2>&1 || true
tar --numeric-owner --xattrs --acls -C "$R" -cf - . |
  docker import --change 'ENV container=docker' --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
    - "$TAG-base" >/dev/null

# preload: a throwaway container runs containerd only as a content store, as kind's own build does
B=koc-build-$KEY
docker rm -f -v "$B" >/dev/null 2>&1 || true
docker run -d --name "$B" --entrypoint=sleep --security-opt seccomp=unconfined "$TAG-base" infinity >/dev/null
docker exec "$B" sh -c 'nohup containerd >/tmp/containerd.log 2>&1 &'
for _ in $(seq 100); do docker exec "$B" ctr version >/dev/null 2>&1 && break; sleep 0.2; done
docker exec -i "$B" ctr -n k8s.io images import --all-platforms --no-unpack --digests - <"$IMAGES_TAR" >/dev/null
have=$(docker exec "$B" ctr -n k8s.io images ls -q)
while read -r ref; do
  grep -qx "$ref" <<<"$have" || { echo "preload is missing $ref" >&2; exit 1; }
done <"$IMAGES_TAR.list"
docker exec "$B" pkill containerd
for _ in $(seq 100); do docker exec "$B" pgrep containerd >/dev/null || break; sleep 0.2; done
docker exec "$B" rm -f /tmp/containerd.log
docker commit --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' "$B" "$TAG-preloaded" >/dev/null
docker rm -f -v "$B" >/dev/null; docker rmi "$TAG-base" >/dev/null
# systemd shuts down on SIGRTMIN+3; docker import/commit cannot set STOPSIGNAL, a metadata-only build can
ctx=$(mktemp -d); printf 'FROM %s\nSTOPSIGNAL SIGRTMIN+3\n' "$TAG-preloaded" >"$ctx/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t "$TAG" "$ctx" >/dev/null 2>&1; rm -rf "$ctx"
docker rmi "$TAG-preloaded" >/dev/null
echo "node image $TAG: $(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}')"
