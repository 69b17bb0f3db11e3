/**
 * The upgrade plan: control plane first, workers one at a time, drain before the kubelet, uncordon after
 * Ready; refusals (no test bed, a skipped minor, a downgrade, another patch); a half-done upgrade resumed;
 * which failures of `kubeadm upgrade node` are transient and how often it runs again; parsing of nodes and
 * of the steps file (retries included).
 *
 * On purpose: with the kubelet-config pattern taken out of TRANSIENT_FAILURES, "should retry the failure
 * seen right after the control plane's restart" failed; with `attempt < attempts` dropped from
 * retryDecision, "should stop after the last attempt" failed.
 */
import { describe, expect, test } from "vitest";
import {
  type NodeInfo,
  parseNodes,
  parseSteps,
  planUpgrade,
  refusal,
  retryDecision,
  runningFrom,
  type StepRecord,
  stepAt,
  transientFailure,
  UpgradeRefusedError,
} from "./upgrade-plan.ts";
import { selectVersions, type Versions } from "./versions.ts";

const from = selectVersions("1.36");
const to = selectVersions("1.37");
const nodes = (cp: string, w1: string, w2: string): NodeInfo[] => [
  { name: "koc-worker2", kubeletVersion: w2, controlPlane: false },
  { name: "koc-control-plane", kubeletVersion: cp, controlPlane: true },
  { name: "koc-worker", kubeletVersion: w1, controlPlane: false },
];
const old = from.KUBERNETES_VERSION;
const neu = to.KUBERNETES_VERSION;
const shown = (steps: { kind: string; node: string }[]) => steps.map((s) => `${s.kind} ${s.node}`);

/** What the plan does on one worker, in order. */
const workerSteps = (node: string) =>
  ["kubeadm", "upgrade-node", "drain", "kubelet", "ready", "uncordon"].map((kind) => `${kind} ${node}`);

describe("planUpgrade", () => {
  test("should stage every node, then upgrade the control plane, then each worker in turn", () => {
    expect(shown(planUpgrade(nodes(old, old, old), from, to))).toEqual([
      "stage koc-worker2",
      "stage koc-control-plane",
      "stage koc-worker",
      "kubeadm koc-control-plane",
      "upgrade-plan koc-control-plane",
      "upgrade-apply koc-control-plane",
      "drain koc-control-plane",
      "kubelet koc-control-plane",
      "ready koc-control-plane",
      "uncordon koc-control-plane",
      ...workerSteps("koc-worker"),
      ...workerSteps("koc-worker2"),
      "settle cluster",
    ]);
  });

  test("should drain each node before its kubelet and uncordon it only after Ready", () => {
    const steps = shown(planUpgrade(nodes(old, old, old), from, to));
    for (const node of ["koc-control-plane", "koc-worker", "koc-worker2"]) {
      const at = (kind: string) => steps.indexOf(`${kind} ${node}`);
      expect(at("drain")).toBeLessThan(at("kubelet"));
      expect(at("kubelet")).toBeLessThan(at("ready"));
      expect(at("ready")).toBeLessThan(at("uncordon"));
    }
  });

  test("should move containerd's sandbox image while drained when the pause pin changes", () => {
    const older: Versions = { ...from, PAUSE_IMAGE_TAG: "3.9" };
    const steps = shown(planUpgrade(nodes(old, old, old), older, to));
    expect(steps.slice(6, 9)).toEqual([
      "drain koc-control-plane",
      "sandbox-image koc-control-plane",
      "kubelet koc-control-plane",
    ]);
  });

  test("should resume a half-done upgrade with the nodes still on the old version", () => {
    expect(shown(planUpgrade(nodes(neu, neu, old), from, to))).toEqual([
      "stage koc-worker2",
      ...workerSteps("koc-worker2"),
      "settle cluster",
    ]);
  });

  test("should have nothing to do when every node runs the target", () => {
    expect(planUpgrade(nodes(neu, neu, neu), from, to)).toEqual([]);
  });

  test("should refuse to skip a minor, downgrade, change only the patch, or run without a test bed", () => {
    const v135 = selectVersions("1.35").KUBERNETES_VERSION;
    expect(() => planUpgrade(nodes(v135, v135, v135), from, to)).toThrow(UpgradeRefusedError);
    expect(refusal(nodes(v135, v135, v135), to)).toMatch(/one minor at a time, upgrade to 1\.36 first/);
    expect(refusal(nodes(neu, neu, neu), from)).toMatch(/downgrades are not supported/);
    expect(refusal(nodes("v1.37.0", "v1.37.0", "v1.37.0"), to)).toMatch(/only minor upgrades/);
    expect(refusal([], to)).toMatch(/no test bed runs/);
    expect(refusal(nodes(old, old, old), to)).toBeUndefined();
  });
});

describe("kubeadm upgrade node: transient failures and retries", () => {
  const worker = "k8s-ops-conformance-worker";
  const forbidden =
    "[upgrade] Reading configuration from the cluster...\n" +
    `error execution phase kubelet-config: failed to download kubelet configuration from the cluster: configmaps "kubelet-config" is forbidden: User "system:node:${worker}" cannot get resource "configmaps" in API group "" in the namespace "kube-system": no relationship found between node '${worker}' and this object`;

  test("should retry the failure seen right after the control plane's restart", () => {
    expect(transientFailure(forbidden)).toMatch(/forbidden: the authorizer has not settled/);
    expect(retryDecision(forbidden, 1, 3)).toEqual({ retry: true, reason: transientFailure(forbidden) });
  });

  test.each([
    ["dial tcp 172.18.0.3:6443: connect: connection refused", /connection refused/],
    ["rpc error: code = Unknown desc = etcdserver: leader changed", /etcd leader changed/],
    ['Get "https://k8s-ops-conformance-control-plane:6443/api": net/http: TLS handshake timeout', /timed out/],
    ["context deadline exceeded", /timed out/],
    ["dial tcp 172.18.0.3:6443: i/o timeout", /timed out/],
  ])("should call %j transient", (output, reason) => {
    expect(transientFailure(output)).toMatch(reason);
    expect(retryDecision(output, 2, 3).retry).toBe(true);
  });

  test.each([
    ["[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: /etc/kubernetes/kubelet.conf does not exist"],
    [`nodes "${worker}" is forbidden: User "system:node:other" cannot patch resource "nodes"`],
    ['configmaps "kubelet-config" not found'],
    ['unable to parse the kubelet configuration: unknown field "failCgroupV1"'],
    [""],
  ])("should stop at once on %j, which is no known transient failure", (output) => {
    expect(transientFailure(output)).toBeUndefined();
    expect(retryDecision(output, 1, 3)).toEqual({ retry: false, reason: undefined });
  });

  test("should stop after the last attempt, naming the transient failure", () => {
    expect(retryDecision(forbidden, 2, 3).retry).toBe(true);
    expect(retryDecision(forbidden, 3, 3)).toEqual({ retry: false, reason: transientFailure(forbidden) });
    expect(retryDecision(forbidden, 1, 1).retry).toBe(false);
  });
});

describe("parseNodes", () => {
  test("should read names, kubelet versions and the control-plane role", () => {
    const json = JSON.stringify({
      items: [
        {
          metadata: { name: "cp", labels: { "node-role.kubernetes.io/control-plane": "" } },
          status: { nodeInfo: { kubeletVersion: "v1.36.3" } },
        },
        { metadata: { name: "w", labels: {} }, status: { nodeInfo: { kubeletVersion: "v1.37.2" } } },
      ],
    });
    expect(parseNodes(json)).toEqual([
      { name: "cp", kubeletVersion: "v1.36.3", controlPlane: true },
      { name: "w", kubeletVersion: "v1.37.2", controlPlane: false },
    ]);
    expect(runningFrom(parseNodes(json))).toBe("v1.36.3");
  });
});

describe("the steps file", () => {
  const steps: StepRecord[] = [
    { step: "drain", node: "w", startedAt: "2030-01-01T00:00:00.000Z", endedAt: "2030-01-01T00:00:10.000Z", ok: true },
    {
      step: "kubelet",
      node: "w",
      startedAt: "2030-01-01T00:00:12.000Z",
      endedAt: "2030-01-01T00:00:20.000Z",
      ok: true,
    },
    {
      step: "settle",
      node: "cluster",
      startedAt: "2030-01-01T00:00:30.000Z",
      endedAt: "2030-01-01T00:00:40.000Z",
      ok: false,
    },
  ];
  const at = (iso: string) => stepAt(steps, Date.parse(iso));

  test("should place a moment in its step, between steps or outside the upgrade", () => {
    expect(at("2030-01-01T00:00:05Z")).toBe("drain w");
    expect(at("2030-01-01T00:00:11Z")).toBe("between steps");
    expect(at("2030-01-01T00:00:35Z")).toBe("settle");
    expect(at("2030-01-01T00:01:00Z")).toBe("outside the upgrade");
    expect(stepAt([], 0)).toBe("outside the upgrade");
  });

  test("should read JSON lines and skip a line cut short", () => {
    const text = `${steps.map((s) => JSON.stringify(s)).join("\n")}\n{"step":"dra`;
    expect(parseSteps(text)).toEqual(steps);
  });

  test("should keep a step's retries, each with its time and reason", () => {
    const retried: StepRecord = {
      step: "upgrade-node",
      node: "w",
      startedAt: "2030-01-01T00:00:00.000Z",
      endedAt: "2030-01-01T00:00:30.000Z",
      ok: true,
      retries: [{ at: "2030-01-01T00:00:05.000Z", reason: "connection refused (the API server is not listening yet)" }],
    };
    const broken = { ...retried, retries: [{ at: 5 }, "connection refused"] };
    const { retries: _, ...plain } = retried; // no valid retry: no retries field
    expect(parseSteps(`${JSON.stringify(retried)}\n${JSON.stringify(broken)}`)).toEqual([retried, plain]);
  });
});
