/**
 * Allure 3 configuration for `k8s-ops-conformance report` (read from the project root).
 *
 * Categories separate "the cluster behaved wrongly" (an assertion or a wait on cluster behaviour failed)
 * from "the environment was broken" (API unreachable or refusing us, no usable namespace, image pulls,
 * timeouts in setup), so a red nightly says at a glance whether to look at the cluster or at the run.
 * The first matching rule wins. History: KOC_ALLURE_HISTORY (set by `report --history DIR`).
 */
const ENVIRONMENT =
  /ServiceAccount \S+\/default exists|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|socket hang up|cannot reach|Unauthorized|Forbidden|\b40[13]\b|Hook timed out|no answer within|no exit status after|ErrImagePull|ImagePullBackOff|Test timed out|the local test bed is broken/i;

export default {
  name: "k8s-ops-conformance",
  ...(process.env.KOC_ALLURE_HISTORY ? { historyPath: process.env.KOC_ALLURE_HISTORY, appendHistory: true } : {}),
  categories: [
    {
      id: "environment-broken",
      name: "Environment broken (API, setup, images, timeouts outside a check)",
      matchers: [{ statuses: ["failed", "broken"], message: ENVIRONMENT }],
    },
    {
      id: "cluster-wrong",
      name: "Cluster behaved wrongly (a check failed)",
      matchers: [
        { statuses: ["failed"] },
        { statuses: ["broken"], message: /Timed out after|Expected to hold|expected/i },
      ],
    },
    { id: "harness-error", name: "Harness errors (a bug in the suite)", matchers: [{ statuses: ["broken"] }] },
    { id: "skipped", name: "Skipped: prerequisite missing on this cluster", matchers: [{ statuses: ["skipped"] }] },
  ],
};
