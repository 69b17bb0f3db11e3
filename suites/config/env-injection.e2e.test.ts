/**
 * Testname: Secrets and ConfigMaps, consumed as environment variables
 * Description: A Secret created from literals (username, password) MUST be stored base64-encoded in `.data`
 *   (stringData is write-only and not stored). A container that maps the Secret's keys to env vars with
 *   secretKeyRef MUST see the plain values, and one that maps a ConfigMap key with configMapKeyRef and the
 *   whole ConfigMap with envFrom MUST see its values under the key names. No Secret value may reach the
 *   report (the file's last test searches it).
 * Not covered: updates (update-propagation), files (volume-layout), envFrom.secretRef, prefixes.
 * Serial or disruptive: no; everything lives in the test's namespace.
 * On purpose (each made to fail once by a temporary edit): a wrong expected value; a raw attachment of a
 *   Secret value (caught by the leak scan).
 */

import { config } from "../../helpers/framework/config.ts";
import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import { attach, capability, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { assertNoSecretLeaks, secretValue } from "../../helpers/manifests/leaks.ts";
import { podReady } from "../../helpers/observe/conditions.ts";
import { envDigest, sha256 } from "../../helpers/traffic/container-view.ts";
import { shell } from "../../helpers/traffic/exec.ts";

podSecurity("baseline"); // root images (nginx, busybox), no host access

const MANIFESTS = "config/env-injection";

/** The literal a key of Secret db-credentials was created from, taken from the manifest (never printed). */
const literal = (key: string): string => secretValue([MANIFESTS], "db-credentials", key);

describe.concurrent("Config: Secrets and ConfigMaps as environment variables", () => {
  test("should store Secret literals base64-encoded and show them plain in the container's env", async ({ ns }) => {
    await capability("Config", "Secrets and ConfigMaps in env");
    await step("arrange: apply the Secret, the ConfigMap and a pod reading both, wait until it is Ready", async () => {
      await apply(ns, MANIFESTS);
      await waitFor(`pod ${ns.name}/env-reader is Ready`, podReady(ns, "env-reader"), T.podStart);
    });

    await step("assert: the API stores the literals base64-encoded in .data, without stringData", async () => {
      const secret = await ns.kube.core.readNamespacedSecret({ name: "db-credentials", namespace: ns.name });
      expect(Object.keys(secret.data ?? {}).sort(), `keys of Secret ${ns.name}/db-credentials`).toEqual([
        "password",
        "username",
      ]);
      for (const key of ["username", "password"]) {
        expect(secret.data?.[key], `.data.${key} of Secret ${ns.name}/db-credentials`).toBe(
          Buffer.from(literal(key)).toString("base64"),
        );
      }
      expect(secret.stringData, "stringData is write-only").toBeUndefined();
    });

    await step("assert: env shows the Secret's plain values (compared as SHA-256 digests)", async () => {
      // The env listing is attached with the values scrubbed: the report shows DB_PASSWORD=[redacted].
      await attach("env of env-reader", await shell(ns, "env-reader", "env | sort"));
      for (const [name, key] of [
        ["DB_USER", "username"],
        ["DB_PASSWORD", "password"],
      ] as const) {
        expect(await envDigest(ns, "env-reader", name), `sha256 of $${name} in ${ns.name}/env-reader`).toBe(
          sha256(literal(key)),
        );
      }
    });

    await step("assert: env shows the ConfigMap's values by configMapKeyRef and envFrom", async () => {
      const env = await shell(ns, "env-reader", 'echo "$APP_LOG_LEVEL|$LOG_LEVEL|$MAX_CONNECTIONS"');
      expect(env.trim(), `APP_LOG_LEVEL|LOG_LEVEL|MAX_CONNECTIONS in ${ns.name}/env-reader`).toBe("info|info|100");
    });
  });

  test.sequential("should keep the values of its Secrets out of the report and artifacts", async ({ task }) => {
    await capability("Config", "Secrets stay out of reports");
    await assertNoSecretLeaks(task, [MANIFESTS], config().reportsDir);
  });
});
