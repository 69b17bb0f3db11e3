# shellcheck shell=bash
# Sourced by the build scripts: the pins of the selected Kubernetes minor (the table in testbed/versions.ts).
# cluster.ts exports them; a script run by hand asks versions.ts (KOC_KUBERNETES's minor, else the newest),
# with the project's own Node (node_modules/.bin/node, which runs TypeScript) when `npm ci` installed it:
# the machine's node may be older than the project's.
if [ -z "${KUBERNETES_VERSION:-}" ]; then
  _root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  _node=node; [ -x "$_root/node_modules/.bin/node" ] && _node=$_root/node_modules/.bin/node
  _pins=$("$_node" "$_root/testbed/versions.ts" env) || exit 2
  eval "$_pins"; unset _pins _node _root
fi
