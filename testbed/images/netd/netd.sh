#!/bin/bash
# netd: the test bed's pod network, a small stand-in for kind's kindnetd (which the Go module proxy
# does not serve). On every node it
#   - writes the CNI config: ptp veth pairs + host-local IPAM from the node's spec.podCIDR
#   - routes every other node's podCIDR via that node's InternalIP (all nodes share one L2 network)
#   - masquerades pod traffic leaving the pod network
#   - makes the Service CIDR unreachable where kube-proxy has not rewritten the address (below)
# and re-applies this whenever the node list changes (kubectl watch).
# env: NODE_NAME, POD_SUBNET, CONTROL_PLANE_ENDPOINT (host:port, patched in by kind)
set -u
log() { echo "$(date -u +%H:%M:%S) netd: $*"; }
: "${NODE_NAME:?}" "${POD_SUBNET:?}"
# reach the API server directly: the kubernetes Service needs kube-proxy, which may not be up yet
if [ -n "${CONTROL_PLANE_ENDPOINT:-}" ]; then
  export KUBERNETES_SERVICE_HOST=${CONTROL_PLANE_ENDPOINT%:*} KUBERNETES_SERVICE_PORT=${CONTROL_PLANE_ENDPOINT##*:}
fi
CONF=/etc/cni/net.d/10-testbed.conflist

write_conf() { # write_conf CIDR: only when it differs, so the runtime does not see needless changes
  local want
  want=$(cat <<JSON
{
  "cniVersion": "0.3.1",
  "name": "testbed",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "mtu": ${MTU:-1500},
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "routes": [{ "dst": "0.0.0.0/0" }],
        "ranges": [[{ "subnet": "$1" }]]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
JSON
)
  if [ "$(cat "$CONF" 2>/dev/null)" != "$want" ]; then
    printf '%s\n' "$want" >"$CONF.tmp" && mv "$CONF.tmp" "$CONF"
    log "CNI config written for $1"
  fi
}

masquerade() {
  iptables -t nat -N TESTBED-MASQ 2>/dev/null || true
  iptables -t nat -C POSTROUTING -j TESTBED-MASQ 2>/dev/null || iptables -t nat -A POSTROUTING -j TESTBED-MASQ
  iptables -t nat -F TESTBED-MASQ
  iptables -t nat -A TESTBED-MASQ -d "$POD_SUBNET" -j RETURN
  iptables -t nat -A TESTBED-MASQ -m addrtype --dst-type LOCAL -j RETURN
  iptables -t nat -A TESTBED-MASQ -s "$POD_SUBNET" -j MASQUERADE
}

# kube-proxy rewrites a ClusterIP before routing. Where its rules are missing (a broken node), a pod's
# packet to a ClusterIP would follow the default route off the node; the Service CIDR is routed to
# "unreachable" instead (table 60), so the sender fails at once. The node's own processes keep the main
# table (rule "iif lo"): kube-proxy rewrites their packets only after a route lookup that must succeed.
SVC_TABLE=60
unreachable_services() {
  local cidrs c
  cidrs=$(kubectl get servicecidrs -o jsonpath='{range .items[*]}{.spec.cidrs[*]}{" "}{end}') || return 1
  [ -n "${cidrs// /}" ] || return 1
  for c in $cidrs; do
    case $c in *:*) continue ;; esac
    ip route show table "$SVC_TABLE" | grep -q "^unreachable $c" || ip route replace unreachable "$c" table "$SVC_TABLE"
    ip rule show pref 60 | grep -q "to $c iif lo lookup main" || ip rule add pref 60 to "$c" iif lo lookup main
    if ! ip rule show pref 61 | grep -q "to $c lookup $SVC_TABLE"; then
      ip rule add pref 61 to "$c" lookup "$SVC_TABLE" && log "Service CIDR $c unreachable unless kube-proxy rewrote it"
    fi
  done
}

reconcile() {
  local nodes name cidr ip
  unreachable_services || log "cannot read the ServiceCIDRs yet"
  nodes=$(kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}') || return 1
  while read -r name cidr ip; do
    [ -n "$name" ] && [ -n "$cidr" ] && [ -n "$ip" ] || continue
    if [ "$name" = "$NODE_NAME" ]; then
      write_conf "$cidr"
    elif [ "$(ip route show "$cidr")" != "$cidr via $ip dev eth0 " ]; then
      ip route replace "$cidr" via "$ip" && log "route $cidr via $ip ($name)"
    fi
  done <<<"$nodes"
}

sysctl -qw net.ipv4.ip_forward=1
masquerade
log "started on $NODE_NAME, pod subnet $POD_SUBNET"
while true; do
  reconcile || log "cannot list nodes yet"
  # every node event (added, address or podCIDR changed) triggers a reconcile; the watch ends after
  # a while (request timeout) and is reopened, which also repairs anything changed behind our back
  kubectl get nodes --watch-only -o name --request-timeout=300s 2>/dev/null | while read -r _; do reconcile; done
  sleep 1 # back off before reopening the watch when the API server is unreachable
done
