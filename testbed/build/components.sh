#!/usr/bin/env bash
# Build the Go programs the test bed needs besides Kubernetes itself, each at the version pinned for the
# selected minor (testbed/versions.ts), into OUT_DIR/<name>-<version>/ (a finished directory is reused).
# usage: components.sh OUT_DIR [NAME ...]   NAME: kind etcd coredns local-path-provisioner crictl
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC1091
source "$HERE/versions.sh"
OUT=${1:?usage: components.sh OUT_DIR [NAME ...]}; shift
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
# modules come from the proxy only: never fall back to fetching from origin hosts
GOPROXY=$(go env GOPROXY); export GOPROXY=${GOPROXY%,direct}
names=${*:-kind etcd coredns local-path-provisioner crictl}

build() { # build NAME VERSION FUNCTION: run FUNCTION with $dest as GOBIN, atomically
  local name=$1 ver=$2 fn=$3 dest="$OUT/$1-$2"
  [ -f "$dest/.done" ] && { echo "$name $ver: cached"; return; }
  rm -rf "$dest" "$dest.tmp"; mkdir -p "$dest.tmp"
  local t0; t0=$(date +%s)
  GOBIN="$dest.tmp" "$fn" "$dest.tmp"
  touch "$dest.tmp/.done"; mv "$dest.tmp" "$dest"
  echo "$name $ver: built in $(( $(date +%s) - t0 ))s"
}
b_kind() { go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kind@$KIND_VERSION"; }
b_coredns() {
  go install -trimpath -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" \
    "github.com/coredns/coredns@$COREDNS_VERSION"
}
b_local_path() {
  go install -trimpath -ldflags "-s -w -X main.VERSION=$LOCAL_PATH_PROVISIONER_VERSION" \
    "github.com/rancher/local-path-provisioner@$LOCAL_PATH_PROVISIONER_VERSION"
}
b_crictl() {
  go install -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
    "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
}
b_etcd() { # etcd's server module replaces its siblings with ../ paths: build it from a wrapper module
  local w; w=$(mktemp -d)
  (cd "$w" && go mod init local/etcdbuild >/dev/null 2>&1 && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null &&
   go build -trimpath -ldflags "-s -w" -o "$1/etcd" go.etcd.io/etcd/server/v3 &&
   go get "go.etcd.io/etcd/etcdctl/v3@$ETCD_VERSION" >/dev/null &&
   go build -trimpath -ldflags "-s -w" -o "$1/etcdctl" go.etcd.io/etcd/etcdctl/v3)
  rm -rf "$w"
}
for n in $names; do
  case $n in
    kind) build kind "$KIND_VERSION" b_kind ;;
    etcd) build etcd "$ETCD_VERSION" b_etcd ;;
    coredns) build coredns "$COREDNS_VERSION" b_coredns ;;
    local-path-provisioner) build local-path-provisioner "$LOCAL_PATH_PROVISIONER_VERSION" b_local_path ;;
    crictl) build crictl "$CRICTL_VERSION" b_crictl ;;
    *) echo "unknown component $n" >&2; exit 2 ;;
  esac
done
