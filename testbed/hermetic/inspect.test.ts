// Made to fail on purpose: each judgement is fed the broken variant of a real reading (rule missing,
// behind an ACCEPT, Corefile with forward, dnsmasq reading resolv.conf) and must name the problem.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import {
  corefileProblems,
  HOST_RULE_COMMENT,
  hostRuleProblems,
  nodeDnsProblems,
  serviceRoutingProblems,
} from "./inspect.ts";

// as iptables -S prints it (the options in its own order, not the order they were given in)
const rule = `-A DOCKER-USER ! -d 172.18.0.0/16 -i br-0123456789ab ! -o br-0123456789ab -m comment --comment "${HOST_RULE_COMMENT}" -j DROP`;

describe("host drop rule", () => {
  test("in place as the first rule", () => {
    const s = `-N DOCKER-USER\n${rule}\n-A DOCKER-USER -j RETURN\n`;
    expect(hostRuleProblems(s, "DOCKER-USER", "br-0123456789ab", "172.18.0.0/16")).toEqual([]);
  });

  test("missing, for another bridge or subnet, or behind a rule that lets packets through", () => {
    expect(
      hostRuleProblems("-N DOCKER-USER\n-A DOCKER-USER -j RETURN", "DOCKER-USER", "br-0123456789ab", "172.18.0.0/16"),
    ).toEqual(["no rule in DOCKER-USER drops what br-0123456789ab sends outside 172.18.0.0/16"]);
    expect(hostRuleProblems(rule, "DOCKER-USER", "br-ffffffffffff", "172.18.0.0/16")).toHaveLength(1);
    expect(hostRuleProblems(rule, "DOCKER-USER", "br-0123456789ab", "172.19.0.0/16")).toHaveLength(1);
    const late = `-A DOCKER-USER -i br-0123456789ab -j ACCEPT\n${rule}`;
    // traffic staying on the bridge may be let through first: it does not leave the network
    const bridged = `-A DOCKER-USER -i br-0123456789ab -o br-0123456789ab -j RETURN\n${rule}`;
    expect(hostRuleProblems(bridged, "DOCKER-USER", "br-0123456789ab", "172.18.0.0/16")).toEqual([]);
    // the first form of the rule, which also dropped pod-to-pod traffic bridged between nodes
    const old = rule.replace(" ! -o br-0123456789ab", "");
    expect(hostRuleProblems(old, "DOCKER-USER", "br-0123456789ab", "172.18.0.0/16")).toHaveLength(1);
    expect(hostRuleProblems(late, "DOCKER-USER", "br-0123456789ab", "172.18.0.0/16")[0]).toMatch(
      /before the drop rule/,
    );
    expect(hostRuleProblems(rule, "DOCKER-USER", "br-0123456789ab", "")[0]).toMatch(/not an IPv4 CIDR/);
  });
});

describe("Service CIDR unreachable on a node", () => {
  const ipRule =
    "0:\tfrom all lookup local\n60:\tfrom all to 10.96.0.0/16 iif lo lookup main\n61:\tfrom all to 10.96.0.0/16 lookup 60\n32766:\tfrom all lookup main\n";
  test("route and rule in place", () => {
    expect(serviceRoutingProblems(ipRule, "unreachable 10.96.0.0/16 \n", ["10.96.0.0/16"])).toEqual([]);
  });

  test("no route, no rule, or no ServiceCIDR known", () => {
    expect(serviceRoutingProblems(ipRule, "", ["10.96.0.0/16"])).toEqual([
      'no "unreachable 10.96.0.0/16" route in table 60',
    ]);
    expect(
      serviceRoutingProblems("32766:\tfrom all lookup main", "unreachable 10.96.0.0/16", ["10.96.0.0/16"]),
    ).toEqual(["no rule sends packets to 10.96.0.0/16 to table 60"]);
    expect(serviceRoutingProblems(ipRule, "unreachable 10.96.0.0/16", ["10.97.0.0/16"])).toHaveLength(2);
    expect(serviceRoutingProblems(ipRule, "unreachable 10.96.0.0/16", [])).toEqual([
      "the cluster lists no ServiceCIDR",
    ]);
  });
});

describe("CoreDNS forwards nothing", () => {
  const ours = readFileSync(join(import.meta.dirname, "Corefile"), "utf8");
  test("the test bed's Corefile", () => {
    expect(corefileProblems(ours)).toEqual([]);
  });

  test("kubeadm's default, which forwards to the node's resolver", () => {
    const kubeadm = ours.replace(
      "    cache 30",
      "    forward . /etc/resolv.conf {\n       max_concurrent 1000\n    }\n    cache 30",
    );
    expect(corefileProblems(kubeadm)).toEqual(['the Corefile forwards queries: "forward . /etc/resolv.conf {"']);
    expect(corefileProblems(".:53 {\n  errors\n}")).toEqual(["the Corefile does not serve cluster.local"]);
  });
});

describe("a node's resolver answers container names only", () => {
  const natRules = ["PREROUTING", "OUTPUT"]
    .flatMap((c) =>
      ["udp", "tcp"].map(
        (p) => `-A ${c} -d 172.18.0.1/32 -p ${p} -m ${p} --dport 53 -j DNAT --to-destination 127.0.0.1:53`,
      ),
    )
    .join("\n");
  const good = {
    resolvConf: "nameserver 172.18.0.1\noptions ndots:0\n",
    gateway: "172.18.0.1",
    natRules,
    dnsmasq: "/usr/sbin/dnsmasq --keep-in-foreground --no-resolv --no-hosts --conf-file=/etc/koc-dns-servers.conf\n",
    dnsmasqConf: "server=/kind-control-plane/127.0.0.11\nserver=/kind-external-load-balancer/127.0.0.11\n",
  };
  test("in place", () => {
    expect(nodeDnsProblems(good)).toEqual([]);
  });

  test("Docker's resolver named directly, a missing redirect, dnsmasq absent or forwarding more than container names", () => {
    expect(nodeDnsProblems({ ...good, resolvConf: "nameserver 127.0.0.11\n" })[0]).toMatch(
      /names 127.0.0.11, expected only the gateway/,
    );
    expect(nodeDnsProblems({ ...good, natRules: natRules.split("\n").slice(1).join("\n") })).toEqual([
      "no PREROUTING rule sends udp 172.18.0.1:53 to the node's dnsmasq",
    ]);
    expect(nodeDnsProblems({ ...good, dnsmasq: "" })).toEqual(["dnsmasq does not run (no process)"]);
    expect(nodeDnsProblems({ ...good, dnsmasq: good.dnsmasq.replace("--no-resolv ", "") })[0]).toMatch(
      /no --no-resolv/,
    );
    expect(nodeDnsProblems({ ...good, dnsmasq: `${good.dnsmasq.trim()} --server=8.8.8.8` })).toEqual([
      "dnsmasq forwards more than container names: --server=8.8.8.8",
    ]);
    expect(nodeDnsProblems({ ...good, dnsmasqConf: `${good.dnsmasqConf}server=/com/127.0.0.11\n` })).toEqual([
      "dnsmasq forwards more than container names: server=/com/127.0.0.11",
    ]);
    expect(nodeDnsProblems({ ...good, dnsmasqConf: "server=/example.com/127.0.0.11\n" })).toEqual([
      "dnsmasq forwards no container name",
      "dnsmasq forwards more than container names: server=/example.com/127.0.0.11",
    ]);
  });
});
