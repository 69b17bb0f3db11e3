# Sourced by the build scripts: the pins of the selected Kubernetes minor (the table in testbed/versions.ts).
# cluster.ts exports them; a script run by hand asks versions.ts (KOC_KUBERNETES's minor, else the newest).
if [ -z "${KUBERNETES_VERSION:-}" ]; then
  _pins=$(node "$(dirname "${BASH_SOURCE[0]}")/../versions.ts" env) || exit 2
  eval "$_pins"; unset _pins
fi
