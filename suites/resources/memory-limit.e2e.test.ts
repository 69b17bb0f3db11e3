/**
 * Testname: Memory limits kill: OOMKilled, restarted per restartPolicy, the neighbour untouched
 * Description: A container that allocates past its 32Mi memory limit (dd with a 64M buffer) MUST be killed
 *   by the kernel inside its own cgroup: exit code 137 (SIGKILL). Its reason MUST be OOMKilled where the
 *   runtime reports one; containerd and CRI-O sometimes report none or "Error" for the same kill (upstream
 *   therefore checks the reason only when present): "Error" or none is reported, any other reason fails. With
 *   restartPolicy Always the kubelet MUST restart it: restartCount >= 1 and lastState.terminated showing
 *   exit 137 are visible in the pod status. A neighbour pod on the same node MUST keep running with
 *   restartCount 0 and the same container start time throughout.
 * Not covered: node-level OOM (the node runs out, not the container: see the eviction scenario),
 *   memory.oom.group with several processes, init containers, swap.
 * Serial or disruptive: no; the allocation is capped by the container's own 32Mi limit.
 * On purpose: KOC_RESOURCES_SABOTAGE=1 makes dd's buffer 1M, inside the limit: no kill, and the wait for
 *   exit 137 times out showing the container's state.
 */

import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import { capability, log, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import {
  containerCheck,
  containerRunning,
  containerStatus,
  RestartCounter,
  showContainer,
} from "../../helpers/observe/probe-evidence.ts";
import { resourcesSabotage } from "../../helpers/observe/qos.ts";

podSecurity("baseline"); // root images (busybox), no host access

const SABOTAGE = resourcesSabotage();
const SIGKILL_EXIT = 137;

describe.concurrent("Memory limits", () => {
  test("should OOM-kill a container past its memory limit with exit 137, restart it, and leave its neighbour alone", async ({
    ns,
  }) => {
    await capability("Resources", "Memory limits");
    const blockSize = SABOTAGE ? "1M" : "64M";

    const node = await step(`arrange: a pod whose dd allocates a ${blockSize} buffer under a 32Mi limit`, async () => {
      await apply(ns, "resources/memory-limit/10-victim.yaml", { blockSize });
      const pod = await waitFor(
        `pod ${ns.name}/oom-victim is scheduled`,
        {
          observe: () => ns.kube.core.readNamespacedPod({ name: "oom-victim", namespace: ns.name }),
          ok: (p) => Boolean(p.spec?.nodeName),
          show: (p) => `phase ${p.status?.phase}, node ${p.spec?.nodeName ?? "none yet"}`,
        },
        T.podStart,
        { signal: ns.signal },
      );
      return pod.spec?.nodeName ?? "";
    });

    const neighbourStart = await step(`arrange: a neighbour pod on the same node ${node}`, async () => {
      await apply(ns, "resources/memory-limit/20-neighbour.yaml", { node });
      const pod = await waitFor(
        `container ${ns.name}/neighbour/app is running`,
        containerRunning(ns, "neighbour", "app"),
        T.podStart,
        { signal: ns.signal },
      );
      expect(pod.spec?.nodeName, "node of the neighbour").toBe(node);
      return containerStatus(pod, "app")?.state?.running?.startedAt;
    });

    const counter = new RestartCounter(`container ${ns.name}/oom-victim/hog`);
    const victim = await step(`assert: the container is killed with exit ${SIGKILL_EXIT} and restarted`, () =>
      waitFor(
        `container ${ns.name}/oom-victim/hog restarted after exit ${SIGKILL_EXIT} (restartCount >= 1, lastState.terminated.exitCode ${SIGKILL_EXIT})`,
        containerCheck(
          ns,
          "oom-victim",
          "hog",
          (s) => (s?.restartCount ?? 0) >= 1 && s?.lastState?.terminated?.exitCode === SIGKILL_EXIT,
          counter,
        ),
        T.podStart,
        { signal: ns.signal },
      ),
    );
    const status = containerStatus(victim, "hog");
    const reason = status?.lastState?.terminated?.reason;
    log(`oom-victim/hog: ${showContainer(status)}`);

    await step(
      `assert: the reason is OOMKilled, or none/Error where the runtime does not say (seen: ${reason ?? "none"})`,
      () => {
        if (reason !== "OOMKilled")
          log(`the runtime reported "${reason ?? ""}", not OOMKilled, for exit ${SIGKILL_EXIT}`);
        expect(["OOMKilled", "Error", "", undefined], `lastState.terminated.reason of oom-victim/hog`).toContain(
          reason,
        );
      },
    );

    await step("assert: the neighbour kept running, never restarted, same container start", async () => {
      const pod = await ns.kube.core.readNamespacedPod({ name: "neighbour", namespace: ns.name });
      const app = containerStatus(pod, "app");
      expect(app?.restartCount, `neighbour/app: ${showContainer(app)}`).toBe(0);
      expect(app?.state?.running?.startedAt, `neighbour/app: ${showContainer(app)}`).toEqual(neighbourStart);
    });
  });
});
