/**
 * The `@disruptive` rule. A test that changes cluster-scoped state (cordons a node, changes node
 * configuration) carries `@disruptive` in its title and lives in a `*.disruptive.e2e.test.ts` file, which the
 * `serial` vitest project runs alone, after everything else (vitest.config.ts). Such a test runs:
 *   - by default on the local test bed, recognised by its ConfigMap kube-public/k8s-ops-conformance-testbed
 *     (written by `npm run cluster:up`, also for a second test bed under KOC_TESTBED_NAME);
 *   - on any other cluster only with `--disruptive` (KOC_DISRUPTIVE=1); otherwise it is skipped, saying so.
 * The `ns` fixture applies the rule before it creates the test's namespace (helpers/framework/fixtures.ts).
 */
import { isNotFound, type Kube } from "./kube.ts";
import { titleTags } from "./report.ts";

export const DISRUPTIVE_TAG = "disruptive";
/** The ConfigMap the local test bed publishes about itself (node network, cluster name, image mode). */
export const TESTBED_INFO = { namespace: "kube-public", name: "k8s-ops-conformance-testbed" } as const;

const DISRUPTIVE_FILE = /\.disruptive\.e2e\.test\.ts$/;

export interface DisruptiveFacts {
  /** The test's own title (tags are read from it). */
  title: string;
  /** The test file's path. */
  file: string;
  /** Whether the target is the local test bed. */
  testbed: boolean;
  /** --disruptive / KOC_DISRUPTIVE. */
  allowed: boolean;
  context: string;
}

/** A test that breaks the rule's layout: a mistake in the suite, not in the cluster. */
export class DisruptiveLayoutError extends Error {
  override name = "DisruptiveLayoutError";
}

/**
 * What the rule says about one test: "run", or the reason to skip it. Throws DisruptiveLayoutError when the
 * tag and the file name disagree (a disruptive test outside the serial project would run beside others).
 */
export function disruptiveVerdict(facts: DisruptiveFacts): { run: true } | { run: false; reason: string } {
  const tagged = titleTags(facts.title).includes(DISRUPTIVE_TAG);
  const serialFile = DISRUPTIVE_FILE.test(facts.file);
  if (tagged && !serialFile) {
    throw new DisruptiveLayoutError(
      `"${facts.title}" is tagged @${DISRUPTIVE_TAG} but its file is not *.disruptive.e2e.test.ts, so it would run beside other tests; rename the file`,
    );
  }
  if (serialFile && !tagged) {
    throw new DisruptiveLayoutError(
      `"${facts.title}" lives in a *.disruptive.e2e.test.ts file but its title lacks @${DISRUPTIVE_TAG}; add the tag so --tag selects it`,
    );
  }
  if (!tagged || facts.testbed || facts.allowed) return { run: true };
  return {
    run: false,
    reason: `@${DISRUPTIVE_TAG}: changes cluster-scoped state (nodes); context "${facts.context}" is not the local test bed, so it runs only with --disruptive (KOC_DISRUPTIVE=1)`,
  };
}

const testbedByContext = new Map<string, Promise<boolean>>();

/** Whether `kube` talks to a local test bed: its ConfigMap exists (asked once per context and process). */
export function isTestbed(kube: Kube): Promise<boolean> {
  let known = testbedByContext.get(kube.context);
  if (known === undefined) {
    known = kube.core.readNamespacedConfigMap({ ...TESTBED_INFO }).then(
      () => true,
      (error: unknown) => {
        if (isNotFound(error)) return false;
        testbedByContext.delete(kube.context);
        throw error;
      },
    );
    testbedByContext.set(kube.context, known);
  }
  return known;
}
