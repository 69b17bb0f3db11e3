#!/usr/bin/env bash
# Build the Kubernetes binaries of KUBERNETES_VERSION from the Go module proxy, version-stamped.
# k8s.io/kubernetes replaces its staging modules with ./staging paths that are not in its module zip, so
# `go install ...@version` refuses it: a small wrapper module requires k8s.io/kubernetes and points each
# staging module at its published version instead.
# usage: kubernetes.sh OUT_DIR   (OUT_DIR/bin/{kubeadm,kubelet,...} appear only when every binary built)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC1091
source "$HERE/versions.sh"
OUT=${1:?usage: kubernetes.sh OUT_DIR}
V=$KUBERNETES_VERSION S=$KUBERNETES_STAGING_VERSION
[ -x "$OUT/bin/kubelet" ] && { echo "kubernetes $V: cached in $OUT/bin"; exit 0; }
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
# modules come from the proxy only: never fall back to fetching from origin hosts
GOPROXY=$(go env GOPROXY); export GOPROXY=${GOPROXY%,direct}
W=$OUT/src; rm -rf "$W"; mkdir -p "$W"; cd "$W"
gomod=$(go mod download -json "k8s.io/kubernetes@$V" | jq -r .GoMod)
mods=$(grep -oE 'k8s.io/[a-z0-9-]+ => \./staging' "$gomod" | cut -d' ' -f1 | sort -u)
{
  echo "module local/kbuild"
  echo "go $(sed -n 's/^go //p' "$gomod")"
  sed -n 's/^godebug /godebug /p' "$gomod"
  echo "require k8s.io/kubernetes $V"
  echo "replace ("
  for m in $mods; do echo "  $m => $m $S"; done
  echo ")"
} > go.mod
CMDS="kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy"
{ printf '//go:build tools\n\npackage tools\n\nimport (\n'
  for c in $CMDS; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
  printf ')\n'; } > tools.go
go mod tidy
commit=$(go mod download -json "k8s.io/kubernetes@$V" | jq -r '.Origin.Hash // empty')
minor=$(echo "$V" | cut -d. -f2)
ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X '$p.gitVersion=$V' -X '$p.gitMajor=1' -X '$p.gitMinor=$minor' -X '$p.gitTreeState=clean'"
  ld="$ld -X '$p.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)'"
  [ -n "$commit" ] && ld="$ld -X '$p.gitCommit=$commit'"
done
mkdir -p "$OUT/bin.tmp"
t0=$(date +%s)
for c in $CMDS; do
  echo "building $c ..."
  go build -p 2 -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ld" -o "$OUT/bin.tmp/$c" "k8s.io/kubernetes/cmd/$c"
done
"$OUT/bin.tmp/kubeadm" version -o short | grep -qx "$V" || { echo "kubeadm is not stamped $V" >&2; exit 1; }
rm -rf "${OUT:?}/bin"; mv "$OUT/bin.tmp" "$OUT/bin"
echo "kubernetes $V built in $(( $(date +%s) - t0 ))s into $OUT/bin"
