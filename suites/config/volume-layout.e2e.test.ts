/**
 * Testname: Secrets, mounted as a volume (atomic-writer layout and file modes)
 * Description: A Secret mounted as a volume MUST appear, seen from inside the container, as one symlink per
 *   key `<key> -> ..data/<key>`, with `..data` a symlink to a `..YYYY_MM_DD_HH_MM_SS.<suffix>` directory that
 *   holds the files, and no other entries. The files MUST carry the volume's defaultMode (0440 here, not the
 *   default 0644) and the Secret's values. No Secret value may reach the report (the file's last test).
 * Not covered: updates (update-propagation), per-item modes and paths, fsGroup ownership, ConfigMap volumes
 *   (same writer; update-propagation reads one).
 * Serial or disruptive: no; everything lives in the test's namespace.
 * On purpose (made to fail once by a temporary edit): a wrong expected mode.
 */

import { config } from "../../helpers/framework/config.ts";
import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import { attach, capability, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { assertNoSecretLeaks, secretValuesIn } from "../../helpers/manifests/leaks.ts";
import { podReady } from "../../helpers/observe/conditions.ts";
import { fileDigest, sha256, showLayout, TIMESTAMPED_DIR, volumeLayout } from "../../helpers/traffic/container-view.ts";
import { shell } from "../../helpers/traffic/exec.ts";

podSecurity("baseline"); // root images (nginx, busybox), no host access

const MANIFESTS = "config/volume-layout";
const MOUNT = "/etc/secrets";

describe.concurrent("Config: Secret volumes", () => {
  test("should mount each key as a symlink into a timestamped ..data directory with defaultMode", async ({ ns }) => {
    await capability("Config", "Secret and ConfigMap volumes");
    await step("arrange: apply the Secret and a pod mounting it with defaultMode 0440", async () => {
      await apply(ns, MANIFESTS);
      await waitFor(`pod ${ns.name}/volume-reader is Ready`, podReady(ns, "volume-reader"), T.podStart);
    });

    const layout = await step(`act: list ${MOUNT} from inside the container`, async () => {
      await attach(`ls -la ${MOUNT}`, await shell(ns, "volume-reader", `ls -la ${MOUNT} ${MOUNT}/..data/`));
      return volumeLayout(ns, "volume-reader", MOUNT);
    });
    const where = `${MOUNT} in ${ns.name}/volume-reader: ${showLayout(layout)}`;

    await step("assert: every key is a symlink <key> -> ..data/<key>, and nothing else is there", () => {
      expect(layout.links, where).toEqual({
        "..data": expect.stringMatching(TIMESTAMPED_DIR),
        password: "..data/password",
        username: "..data/username",
      });
      expect(layout.files, `plain files in ${where}`).toEqual([]);
    });

    await step("assert: ..data points to the only directory, ..YYYY_MM_DD_HH_MM_SS.<suffix>", () => {
      expect(layout.dirs, where).toEqual([layout.links["..data"]]);
    });

    await step("assert: the files have mode 440 (defaultMode) and hold the Secret's values", async () => {
      expect(layout.dataFiles, `modes of the files under ${where}`).toEqual({ password: "440", username: "440" });
      for (const { key, value } of secretValuesIn([MANIFESTS])) {
        expect(await fileDigest(ns, "volume-reader", `${MOUNT}/${key}`), `sha256 of ${MOUNT}/${key}`).toBe(
          sha256(value),
        );
      }
    });
  });

  test.sequential("should keep the values of its Secrets out of the report and artifacts", async ({ task }) => {
    await capability("Config", "Secrets stay out of reports");
    await assertNoSecretLeaks(task, [MANIFESTS], config().reportsDir);
  });
});
