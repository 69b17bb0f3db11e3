/**
 * Reading the hermetic settings back (cluster:verify): pure judgements over what `iptables -S`, `ip rule`,
 * `ip route`, resolv.conf, dnsmasq's command line and the Corefile say. Each returns the problems found,
 * none when the setting is in place. Nothing here sends a packet anywhere.
 */
import { isIpv4Cidr } from "../../helpers/traffic/cidr.ts";

export const HOST_RULE_COMMENT = "k8s-ops-conformance: nothing from the kind network leaves this host";
/** The node routing table that makes the Service CIDR unreachable (netd.sh). */
export const SERVICE_TABLE = "60";

/**
 * iptables arguments of the host's drop rule: what the kind network's bridge would forward to another
 * interface, outside its subnet. Traffic that stays on the bridge (nodes, pod-to-pod between nodes,
 * containers on the network) is not matched, nor traffic to the host itself (not forwarded).
 */
export function hostRuleSpec(bridge: string, subnet: string): string[] {
  return [
    "-i",
    bridge,
    "!",
    "-o",
    bridge,
    "!",
    "-d",
    subnet,
    "-m",
    "comment",
    "--comment",
    HOST_RULE_COMMENT,
    "-j",
    "DROP",
  ];
}

/** Whether a line of `iptables -S` is the drop rule for this bridge and subnet (iptables orders the options). */
export function isHostRule(line: string, bridge: string, subnet: string): boolean {
  const has = (part: string) => line.includes(` ${part} `);
  return has(`-i ${bridge}`) && has(`! -o ${bridge}`) && has(`! -d ${subnet}`) && line.endsWith("-j DROP");
}

/** The drop rule must be in `chain` before anything that could let a packet through. */
export function hostRuleProblems(iptablesS: string, chain: string, bridge: string, subnet: string): string[] {
  if (!isIpv4Cidr(subnet)) return [`the kind network's subnet "${subnet}" is not an IPv4 CIDR`];
  const rules = iptablesS.split("\n").filter((l) => l.startsWith(`-A ${chain} `));
  const ours = rules.findIndex((l) => isHostRule(l, bridge, subnet));
  if (ours < 0) return [`no rule in ${chain} drops what ${bridge} sends outside ${subnet}`];
  // a rule for packets leaving through the kind bridge itself cannot let anything out
  const before = rules.slice(0, ours).filter((l) => /-j (ACCEPT|RETURN)\b/.test(l) && !l.includes(` -o ${bridge} `));
  return before.length > 0 ? [`rules before the drop rule in ${chain} let packets through: ${before.join("; ")}`] : [];
}

/** Each Service CIDR unreachable in table 60, used for every packet but the node's own (iif lo). */
export function serviceRoutingProblems(ipRule: string, table60: string, serviceCidrs: string[]): string[] {
  if (serviceCidrs.length === 0) return ["the cluster lists no ServiceCIDR"];
  const problems: string[] = [];
  for (const cidr of serviceCidrs.filter((c) => !c.includes(":"))) {
    if (!table60.split("\n").some((l) => l.trim() === `unreachable ${cidr}` || l.startsWith(`unreachable ${cidr} `)))
      problems.push(`no "unreachable ${cidr}" route in table ${SERVICE_TABLE}`);
    const rule = ipRule
      .split("\n")
      .find((l) =>
        new RegExp(`^61:\\s+from all to ${cidr.replaceAll(".", "\\.")} lookup ${SERVICE_TABLE}\\s*$`).test(l),
      );
    if (!rule) problems.push(`no rule sends packets to ${cidr} to table ${SERVICE_TABLE}`);
  }
  return problems;
}

/** CoreDNS answers cluster names only: no plugin that sends a query elsewhere. */
export function corefileProblems(corefile: string): string[] {
  if (!/\bkubernetes\s+cluster\.local\b/.test(corefile)) return ["the Corefile does not serve cluster.local"];
  const forwards = corefile
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter((l) => /^(forward|proxy|grpc|alternate)\b/.test(l));
  return forwards.map((l) => `the Corefile forwards queries: "${l}"`);
}

/**
 * A node's resolver: resolv.conf names the gateway, whose port 53 goes to the node's dnsmasq, which
 * forwards the cluster's container names to Docker's resolver and nothing else.
 */
export function nodeDnsProblems(facts: {
  resolvConf: string;
  gateway: string;
  natRules: string;
  /** dnsmasq's command line and the content of the configuration file it names */
  dnsmasq: string;
  dnsmasqConf: string;
}): string[] {
  const problems: string[] = [];
  const servers = facts.resolvConf
    .split("\n")
    .filter((l) => /^nameserver\s/.test(l))
    .map((l) => l.split(/\s+/)[1]);
  if (servers.length !== 1 || servers[0] !== facts.gateway)
    problems.push(
      `resolv.conf names ${servers.join(", ") || "no nameserver"}, expected only the gateway ${facts.gateway}`,
    );
  for (const proto of ["udp", "tcp"]) {
    const dnat = new RegExp(
      `-d ${facts.gateway.replaceAll(".", "\\.")}/32 -p ${proto} .*--dport 53 -j DNAT --to-destination 127\\.0\\.0\\.1:53`,
    );
    for (const chain of ["PREROUTING", "OUTPUT"]) {
      if (!facts.natRules.split("\n").some((l) => l.startsWith(`-A ${chain} `) && dnat.test(l)))
        problems.push(`no ${chain} rule sends ${proto} ${facts.gateway}:53 to the node's dnsmasq`);
    }
  }
  problems.push(...dnsmasqProblems(facts.dnsmasq, facts.dnsmasqConf));
  return problems;
}

/** dnsmasq must not read resolv.conf, and may forward only the cluster's container names, to Docker's resolver. */
function dnsmasqProblems(commandLine: string, conf: string): string[] {
  const args = commandLine.trim().split(/\s+/);
  if (!args[0]?.endsWith("dnsmasq")) return [`dnsmasq does not run (${commandLine.trim() || "no process"})`];
  const problems: string[] = [];
  if (!args.includes("--no-resolv")) problems.push("dnsmasq may forward to resolv.conf's servers (no --no-resolv)");
  const confFile = args.find((a) => a.startsWith("--conf-file="))?.slice("--conf-file=".length);
  const servers = [
    ...args.filter((a) => /^(--server|--rev-server|-S)/.test(a)),
    ...conf.split("\n").filter((l) => l.trim() && !l.startsWith("#")),
  ];
  const containerNames = servers.filter((l) =>
    /^server=\/[a-z0-9-]+-(control-plane|external-load-balancer)\/127\.0\.0\.11$/.test(l.trim()),
  );
  if (confFile === undefined || containerNames.length === 0) problems.push("dnsmasq forwards no container name");
  const others = servers.filter((l) => !containerNames.includes(l));
  if (others.length > 0) problems.push(`dnsmasq forwards more than container names: ${others.join(" ")}`);
  return problems;
}
