/**
 * Testname: Harness, the cost of one scenario
 * Description: A scenario that does nothing but receive its namespace from the `ns` fixture: the namespace
 *   MUST exist and be Active. Its duration, end to end, is the harness's own overhead per test (namespace
 *   created and ready, diagnostics skipped, namespace deleted), which `npm run bench` reports.
 * Not covered: everything else; this is a yardstick, not a check of the cluster.
 * Serial or disruptive: no.
 * On purpose: reading another namespace name (e.g. `${ns.name}-x`) fails with "phase undefined" (404 seen).
 */
import { describe, expect, test } from "../../helpers/framework/fixtures.ts";
import { capability } from "../../helpers/framework/report.ts";

describe.concurrent("Harness: one scenario's own cost", () => {
  test("should hand the scenario an Active namespace of its own", async ({ ns }) => {
    await capability("Harness", "Namespace per test");
    const found = await ns.kube.core.readNamespace({ name: ns.name });
    expect(found.status?.phase, `phase of namespace ${ns.name}`).toBe("Active");
  });
});
