/**
 * The local test bed is hermetic: nothing from its nodes and pods leaves the kind network.
 *   - the host drops what the kind network's bridge forwards to any address outside the network
 *     (traffic to the host itself, e.g. its gateway address on the network, is not forwarded: allowed);
 *   - each node routes the Service CIDR to "unreachable" (netd.sh), so missing kube-proxy rules fail fast;
 *   - CoreDNS answers cluster names only (the Corefile beside this file forwards nothing), and each node's
 *     dnsmasq forwards container names only (koc-dns.service).
 * Stock mode, which pulls public images, is exempt. checkHermetic() proves it by inspection only.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { kindSubnet, kubectl, log, NETWORK, TESTBED, until } from "../common.ts";
import {
  corefileProblems,
  HOST_RULE_COMMENT,
  hostRuleProblems,
  hostRuleSpec,
  isHostRule,
  nodeDnsProblems,
  SERVICE_TABLE,
  serviceRoutingProblems,
} from "./inspect.ts";

/** Docker's chain for the user's own forwarding rules, jumped to first; FORWARD when Docker has none. */
async function hostChain(): Promise<string> {
  return (await $`iptables -S DOCKER-USER`.nothrow()).exitCode === 0 ? "DOCKER-USER" : "FORWARD";
}

async function kindBridge(): Promise<string> {
  const named = (
    await $`docker network inspect ${NETWORK} -f ${'{{index .Options "com.docker.network.bridge.name"}}'}`
  ).stdout.trim();
  if (named && named !== "<no value>") return named;
  return `br-${(await $`docker network inspect ${NETWORK} -f {{.Id}}`).stdout.trim().slice(0, 12)}`;
}

/** Removes this project's drop rules: all of them, or all but the one for the current bridge and subnet. */
async function removeHostRules(chain: string, current?: { bridge: string; subnet: string }): Promise<void> {
  const rules = (await $`iptables -S ${chain}`).stdout.split("\n").filter((l) => l.includes(HOST_RULE_COMMENT));
  for (const rule of rules) {
    if (current && isHostRule(rule, current.bridge, current.subnet)) continue;
    // iptables -S quotes the comment; the shell words are its arguments again
    const args =
      rule
        .replace(`-A ${chain} `, "")
        .match(/"[^"]*"|\S+/g)
        ?.map((a) => a.replace(/^"|"$/g, "")) ?? [];
    await $`iptables -D ${chain} ${args}`;
  }
}

export async function ensureHostRule(): Promise<void> {
  const [chain, bridge, subnet] = [await hostChain(), await kindBridge(), await kindSubnet()];
  const spec = hostRuleSpec(bridge, subnet);
  if ((await $`iptables -C ${chain} ${spec}`.nothrow()).exitCode !== 0) {
    await $`iptables -I ${chain} 1 ${spec}`;
    log(`host firewall: ${chain} drops what ${bridge} (kind network) sends outside ${subnet}; cluster:down removes it`);
  }
  await removeHostRules(chain, { bridge, subnet }); // after the new one is in: no moment without a rule
}

/** When the kind network is gone, its rule goes too. */
export async function removeHostRule(): Promise<void> {
  await removeHostRules(await hostChain());
}

/** CoreDNS with the test bed's Corefile (no forwarding); restarted only when it changed. */
export async function ensureCorefile(): Promise<void> {
  const ours = readFileSync(join(TESTBED, "hermetic/Corefile"), "utf8");
  const now = await kubectl("-n", "kube-system", "get", "cm", "coredns", "-o", "jsonpath={.data.Corefile}");
  if (now.trim() === ours.trim()) return;
  await kubectl(
    "-n",
    "kube-system",
    "patch",
    "cm",
    "coredns",
    "--type=merge",
    "-p",
    JSON.stringify({ data: { Corefile: ours } }),
  );
  await kubectl("-n", "kube-system", "rollout", "restart", "deploy/coredns");
  await kubectl("-n", "kube-system", "rollout", "status", "deploy/coredns", "--timeout=180s");
  log("CoreDNS answers cluster names only: it forwards nothing");
}

async function nodeProblems(node: string, serviceCidrs: string[]): Promise<string[]> {
  const sh = async (cmd: string) => (await $`docker exec ${node} sh -c ${cmd}`.nothrow()).stdout;
  const gateway = (await sh("ip -4 route show default")).split(/\s+/)[2] ?? "(no default route)";
  const problems = [
    ...serviceRoutingProblems(await sh("ip rule show"), await sh(`ip route show table ${SERVICE_TABLE}`), serviceCidrs),
    ...nodeDnsProblems({
      resolvConf: await sh("cat /etc/resolv.conf"),
      gateway,
      natRules: await sh("iptables -t nat -S"),
      dnsmasq: await sh("ps -o args= -C dnsmasq"),
      dnsmasqConf: await sh("cat /etc/koc-dns-servers.conf"),
    }),
  ];
  return problems.map((p) => `${node}: ${p}`);
}

/** Every hermetic setting inspected (never by sending a packet out): the problems found, none when in place. */
export async function hermeticProblems(nodes: string[]): Promise<string[]> {
  const [chain, bridge, subnet] = [await hostChain(), await kindBridge(), await kindSubnet()];
  const ipv6 = (await $`docker network inspect ${NETWORK} -f {{.EnableIPv6}}`).stdout.trim();
  const serviceCidrs = (await kubectl("get", "servicecidrs", "-o", "jsonpath={.items[*].spec.cidrs[*]}"))
    .split(" ")
    .filter(Boolean);
  const corefile = await kubectl("-n", "kube-system", "get", "cm", "coredns", "-o", "jsonpath={.data.Corefile}");
  const problems = [
    ...hostRuleProblems((await $`iptables -S ${chain}`).stdout, chain, bridge, subnet).map((p) => `host: ${p}`),
    ...(ipv6 === "true" ? [`host: the ${NETWORK} network has IPv6, which the drop rule does not cover`] : []),
    ...corefileProblems(corefile).map((p) => `CoreDNS: ${p}`),
  ];
  for (const node of nodes) problems.push(...(await nodeProblems(node, serviceCidrs)));
  return problems;
}

/** Waits briefly (a restarted node re-applies its settings within seconds), then fails naming every problem. */
export async function checkHermetic(nodes: string[]): Promise<void> {
  await until("the test bed to be hermetic (inspected)", 60_000, async () => {
    const problems = await hermeticProblems(nodes);
    return problems.length === 0 || problems.join("\n");
  });
}
