/**
 * Testname: Secrets and ConfigMaps, updates seen by a running container
 * Description: When a mounted Secret and ConfigMap are updated, the new content MUST appear at the same
 *   paths in the running container, with `..data` pointing to a new timestamped directory and the old one
 *   removed; the delay from the API update to the new file content is measured and reported (bounded by
 *   the kubelet's pod resync, ~60-90 s by default). The same update MUST NOT reach the running
 *   container's env vars nor a file mounted with subPath. After `rollout restart`, the new pod MUST see the
 *   new values in env and subPath too. No Secret value may reach the report (the file's last test).
 * Not covered: optional volumes created or deleted later, projected volumes, binary data, the kubelet's
 *   configMapAndSecretChangeDetectionStrategy (the delay is measured, whatever the strategy).
 * Serial or disruptive: no; everything lives in the test's namespace. Slow by nature (about 1-2 min).
 * Measured: both delays, with their natural range (VOLUME_UPDATE_RANGE: the kubelet's pod resync, 0 to
 *   90 s, plus the kubelet allowance), inside which a compare never calls them drift.
 * On purpose (each made to fail once by a temporary edit): expecting the env var to change; a too-short
 *   deadline. The range: bin/baseline.test.ts judges a delay of 1.2 s against 84 s (no drift inside the
 *   range, drift beyond it).
 */

import { config } from "../../helpers/framework/config.ts";
import type { TestNamespace } from "../../helpers/framework/fixtures.ts";
import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import { attach, capability, log, measure, type Range, step } from "../../helpers/framework/report.ts";
import { BOUNDS, formatDuration, POLL, T } from "../../helpers/framework/timeouts.ts";
import { type Check, holdsFor, waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { assertNoSecretLeaks, secretValue } from "../../helpers/manifests/leaks.ts";
import { deploymentAvailable, podsReady } from "../../helpers/observe/conditions.ts";
import { restartRollout } from "../../helpers/observe/rollout.ts";
import { envDigest, fileDigest, sha256, showLayout, volumeLayout } from "../../helpers/traffic/container-view.ts";
import { shell } from "../../helpers/traffic/exec.ts";

podSecurity("baseline"); // root images (nginx, busybox), no host access

const V1 = "config/update-propagation";
const V2 = "config/update-propagation/v2";
const GREETING = { v1: "Hello from Production App v1.0", v2: "Hello from Production App v2.0 - UPDATED!" };
const PASSWORD = {
  v1: sha256(secretValue([V1], "app-secret", "password")),
  v2: sha256(secretValue([V2], "app-secret", "password")),
};
const SELECTOR = "app=config-reader";

/**
 * The natural range of a volume update's delay, in ms, for the compare's drift rule. The kubelet rewrites a
 * pod's volumes when it syncs the pod, and an update of a Secret or ConfigMap does not trigger that sync: it
 * comes with the pod's periodic resync, every syncFrequency (1 min by default; the test bed keeps it) plus
 * up to 50% jitter, so anywhere from 0 to 90 s after the update, whatever the previous run saw. With
 * configMapAndSecretChangeDetectionStrategy Watch (the default) the kubelet's copy is already current; with
 * Cache it adds the node's TTL (0 s below 100 nodes). On top: BOUNDS.kubeletAllowance for a kubelet running
 * late on a busy node, which also covers the 250 ms polls.
 */
const SYNC_FREQUENCY_MS = 60_000;
const RESYNC_JITTER = 0.5;
const VOLUME_UPDATE_RANGE: Range = [0, SYNC_FREQUENCY_MS * (1 + RESYNC_JITTER) + BOUNDS.kubeletAllowance];

/** What the container sees: the volume files, the env vars and the subPath file (digests for Secret values). */
interface View {
  secretFile: string;
  configFile: string;
  envPassword: string;
  envGreeting: string;
  subPathFile: string;
}

async function view(ns: TestNamespace, pod: string): Promise<View> {
  const [secretFile, envPassword, text] = await Promise.all([
    fileDigest(ns, pod, "/etc/secret/password"),
    envDigest(ns, pod, "PASSWORD"),
    shell(ns, pod, 'cat /etc/config/greeting; echo; echo "$GREETING"; cat /etc/subpath/greeting'),
  ]);
  const [configFile = "", envGreeting = "", subPathFile = ""] = text.split("\n");
  return { secretFile, configFile, envPassword, envGreeting, subPathFile };
}

function showView(v: View): string {
  const version = (digest: string): string =>
    digest === PASSWORD.v1 ? "v1" : digest === PASSWORD.v2 ? "v2" : `unknown sha256 ${digest.slice(0, 12)}…`;
  return (
    `/etc/secret/password=${version(v.secretFile)}, /etc/config/greeting="${v.configFile}", ` +
    `$PASSWORD=${version(v.envPassword)}, $GREETING="${v.envGreeting}", /etc/subpath/greeting="${v.subPathFile}"`
  );
}

function seen(ns: TestNamespace, pod: string, ok: (v: View) => boolean): Check<View> {
  return { observe: () => view(ns, pod), ok, show: showView };
}

async function onlyPod(ns: TestNamespace): Promise<string> {
  const [pod] = await waitFor(`1 Ready pod ${SELECTOR} in ${ns.name}`, podsReady(ns, SELECTOR, 1), T.rollout);
  return pod?.metadata?.name ?? "?";
}

describe.concurrent("Config: updates of mounted Secrets and ConfigMaps", () => {
  test("should reach volumes in place but not env or subPath until a rollout restart", async ({ ns }) => {
    await capability("Config", "Secret and ConfigMap updates");
    const pod = await step("arrange: apply Secret, ConfigMap (v1) and a Deployment reading them 4 ways", async () => {
      await apply(ns, V1);
      await waitFor(`deployment ${ns.name}/app is available`, deploymentAvailable(ns, "app", 1), T.rollout);
      return onlyPod(ns);
    });
    const before = await step("arrange: the container sees v1 everywhere", async () => {
      const v = await view(ns, pod);
      expect(showView(v), `what ${ns.name}/${pod} sees`).toBe(
        showView({
          secretFile: PASSWORD.v1,
          configFile: GREETING.v1,
          envPassword: PASSWORD.v1,
          envGreeting: GREETING.v1,
          subPathFile: GREETING.v1,
        }),
      );
      return { secret: await volumeLayout(ns, pod, "/etc/secret"), config: await volumeLayout(ns, pod, "/etc/config") };
    });

    const updatedAt = await step("act: apply v2 of the Secret and the ConfigMap", async () => {
      await apply(ns, V2);
      return performance.now();
    });

    const delays = await step("assert: the volumes show v2 at the same paths (polling every 250 ms)", async () => {
      const delay = async (what: string, ok: (v: View) => boolean): Promise<number> => {
        await waitFor(`${what} in ${ns.name}/${pod} shows v2`, seen(ns, pod, ok), T.configPropagation);
        return performance.now() - updatedAt;
      };
      const [secret, configMap] = await Promise.all([
        delay("Secret volume /etc/secret/password", (v) => v.secretFile === PASSWORD.v2),
        delay("ConfigMap volume /etc/config/greeting", (v) => v.configFile === GREETING.v2),
      ]);
      const text = `Secret volume: ${formatDuration(secret)}, ConfigMap volume: ${formatDuration(configMap)} after the API update`;
      log(`propagation to ${ns.name}/${pod}: ${text}`);
      await measure(ns, "Secret volume update delay", Math.round(secret), "ms", { expected: VOLUME_UPDATE_RANGE });
      await measure(ns, "ConfigMap volume update delay", Math.round(configMap), "ms", {
        expected: VOLUME_UPDATE_RANGE,
      });
      await attach(
        "propagation delay",
        `${text}\n(kubelet pod resync: 1 min + jitter by default; upstream allows 240 s + cache TTL)`,
      );
      return text;
    });

    await step("assert: ..data points to a new timestamped directory, the old one is gone", async () => {
      for (const [dir, old] of [
        ["/etc/secret", before.secret],
        ["/etc/config", before.config],
      ] as const) {
        const now = await volumeLayout(ns, pod, dir);
        const where = `${dir} in ${ns.name}/${pod} (before: ${showLayout(old)}; now: ${showLayout(now)})`;
        expect(now.links["..data"], `..data target of ${where}`).not.toBe(old.links["..data"]);
        expect(now.dirs, `timestamped directories of ${where}`).toEqual([now.links["..data"]]);
      }
    });

    // The kubelet has just rewritten this pod's volumes (seen above): if env or subPath followed updates,
    // they would have changed in the same pod sync. Holding a further 15 s covers the gap between the two
    // volumes' rewrites and any lag of the bind mount behind the subPath source.
    await step(
      `assert: env and the subPath file still show v1 (held ${formatDuration(T.holdWindow)} after ${delays})`,
      () =>
        holdsFor(
          `env PASSWORD, GREETING and /etc/subpath/greeting in ${ns.name}/${pod} keep v1`,
          seen(
            ns,
            pod,
            (v) => v.envPassword === PASSWORD.v1 && v.envGreeting === GREETING.v1 && v.subPathFile === GREETING.v1,
          ),
          T.holdWindow,
          { interval: POLL.slow },
        ),
    );

    const restarted = await step("act: rollout restart the Deployment (as kubectl rollout restart does)", async () => {
      await restartRollout(ns, "app");
      await waitFor(`deployment ${ns.name}/app rolled out again`, deploymentAvailable(ns, "app", 1), T.rollout);
      const ready = podsReady(ns, SELECTOR, 1);
      const [fresh] = await waitFor(
        `the only Ready pod ${SELECTOR} in ${ns.name} is a new one, not ${pod}`,
        { ...ready, ok: (pods) => ready.ok(pods) && pods[0]?.metadata?.name !== pod },
        T.rollout,
      );
      return fresh?.metadata?.name ?? "?";
    });

    await step("assert: the new pod sees v2 in env and subPath too", async () => {
      expect(showView(await view(ns, restarted)), `what ${ns.name}/${restarted} sees after the restart`).toBe(
        showView({
          secretFile: PASSWORD.v2,
          configFile: GREETING.v2,
          envPassword: PASSWORD.v2,
          envGreeting: GREETING.v2,
          subPathFile: GREETING.v2,
        }),
      );
    });
  });

  test.sequential("should keep the values of its Secrets out of the report and artifacts", async ({ task }) => {
    await capability("Config", "Secrets stay out of reports");
    await assertNoSecretLeaks(task, [V1, V2], config().reportsDir);
  });
});
