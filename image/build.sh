#!/usr/bin/env bash
# Build the suite image offline, the way the test bed builds its images (testbed/build/images.sh): a Debian
# root filesystem (testbed/build/rootfs.sh, packages in image/base.env), the project at HEAD with its
# node_modules from `npm ci`, and the Node pinned by node_modules's `node` package, assembled by `docker import`
# (no base image, no registry). Tagged <version>-<commit> (helpers/framework/suite-image.ts prints the reference).
#
# usage: npm run image [-- --push REGISTRY/NAME] [-- --no-load]
#   default: load the image into the local test bed's nodes (kind cluster $KOC_TESTBED_NAME, k8s-ops-conformance)
#   --push REGISTRY/NAME   also tag it REGISTRY/NAME:<tag> and push it: needs a registry this machine can reach
#                          and `docker login` to it; then run with KOC_IMAGE_SUITE=REGISTRY/NAME:<tag>
#   --no-load              do not load it into the test bed
# Needs root (debootstrap, chroot), docker, npm and the Debian mirror of the host's apt sources (MIRROR=... else).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck disable=SC1091
source "$ROOT/image/base.env"
push=""; load=1
while [ $# -gt 0 ]; do
  case "$1" in
    --push) push=${2:?--push needs REGISTRY/NAME}; shift 2 ;;
    --no-load) load=0; shift ;;
    *) echo "image: unknown argument $1 (--push REGISTRY/NAME, --no-load)" >&2; exit 2 ;;
  esac
done
NODE=$ROOT/node_modules/.bin/node
[ -x "$NODE" ] || { echo "image: $NODE missing; run npm ci first" >&2; exit 2; }
REF=$("$NODE" "$ROOT/helpers/framework/suite-image.ts")
TAG=${REF##*:}
COMMIT=$(git -C "$ROOT" rev-parse --short=12 HEAD)
VERSION=${TAG%-"$COMMIT"}
[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ] ||
  echo "image: the work tree has uncommitted changes; the image holds commit $COMMIT without them" >&2
CACHE=${KOC_CACHE_DIR:-$HOME/.cache/k8s-ops-conformance}
mkdir -p "$CACHE/rootfs"
ROOTFS=$CACHE/rootfs/suite-$(printf '%s\n' "$SUITE_IMAGE_PACKAGES" | sha256sum | cut -c1-12).tar
bash "$ROOT/testbed/build/rootfs.sh" "$ROOTFS" "$SUITE_IMAGE_PACKAGES"

STAGE=$(mktemp -d); trap 'rm -rf "$STAGE"' EXIT
R=$STAGE/rootfs; APP=$R/opt/k8s-ops-conformance
mkdir -p "$R"; tar -C "$R" --numeric-owner -xf "$ROOTFS"
mkdir -p "$APP"
git -C "$ROOT" archive HEAD | tar -x -C "$APP"
echo "$COMMIT" >"$APP/.suite-commit" # suiteVersion() reads it: the image has no .git
(cd "$APP" && npm ci --no-audit --no-fund --loglevel=error)
node_bin=$APP/node_modules/node/bin/node
want=v$("$NODE" -p "require('$APP/package.json').devDependencies.node")
have=$("$node_bin" --version)
[ "$have" = "$want" ] || { echo "image: node_modules has Node $have, package.json pins $want" >&2; exit 1; }
ln -sf /opt/k8s-ops-conformance/node_modules/node/bin/node "$R/usr/local/bin/node"
echo "koc:x:$SUITE_IMAGE_UID:$SUITE_IMAGE_UID:k8s-ops-conformance:/tmp:/usr/sbin/nologin" >>"$R/etc/passwd"
echo "koc:x:$SUITE_IMAGE_UID:" >>"$R/etc/group"
# the suite writes its reports and vitest its cache under the project
mkdir -p "$APP/reports"; chown -R "$SUITE_IMAGE_UID:$SUITE_IMAGE_UID" "$APP"
tar --numeric-owner --xattrs --acls -C "$R" -cf - . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp' \
  --change 'WORKDIR /opt/k8s-ops-conformance' \
  --change "USER $SUITE_IMAGE_UID" \
  --change 'ENTRYPOINT ["node", "bin/k8s-ops-conformance.ts"]' \
  --change "LABEL org.opencontainers.image.title=k8s-ops-conformance org.opencontainers.image.version=$VERSION org.opencontainers.image.revision=$COMMIT" \
  - "$REF" >/dev/null
echo "image: built $REF ($(docker image inspect -f '{{.Size}}' "$REF" | numfmt --to=iec))"

if [ "$load" = 1 ]; then
  name=${KOC_TESTBED_NAME:-k8s-ops-conformance}
  nodes=$(docker ps --filter "label=io.x-k8s.kind.cluster=$name" --format '{{.Names}}')
  if [ -z "$nodes" ]; then
    echo "image: no running test bed $name to load it into (npm run cluster:up); skipped" >&2
  else
    for n in $nodes; do
      docker save "$REF" | docker exec -i "$n" ctr -n k8s.io images import --all-platforms --no-unpack --digests - >/dev/null
    done
    echo "image: loaded into $(wc -w <<<"$nodes") node(s) of $name"
  fi
fi
if [ -n "$push" ]; then
  target=$push:$TAG
  docker tag "$REF" "$target"
  docker push "$target"
  echo "image: pushed $target; run with KOC_IMAGE_SUITE=$target (or KOC_IMAGE_REGISTRY, which maps $REF to the mirror)"
fi
