import { expect, test } from "vitest";
import type { CgroupView } from "./cgroup-view.ts";
import { qosTableHtml, qosTableMarkdown } from "./qos-table.ts";

const MiB = 2 ** 20;

const view: CgroupView = {
  version: 1,
  memoryLimitBytes: 64 * MiB,
  cpuLimitMillis: 100,
  cpuQuotaUs: 10000,
  cpuPeriodUs: 100000,
  cpuWeight: "cpu.shares 102",
  usageUs: 0,
  periods: 0,
  throttled: 0,
  oomScoreAdj: 0,
  uptimeMs: 1000,
};
const row = {
  pod: "guaranteed",
  container: "app",
  qosClass: "Guaranteed",
  resources: "cpu 100m/100m, memory 64Mi/64Mi",
  expectedOomScoreAdj: -997,
  view,
};

test("the table puts class, score and limits side by side", () => {
  const md = qosTableMarkdown([row]);
  expect(md.split("\n")).toHaveLength(3);
  expect(md).toContain(
    "| guaranteed/app | Guaranteed | cpu 100m/100m, memory 64Mi/64Mi | 0 | -997 | 64Mi | 100m (10000/100000us) | cpu.shares 102 |",
  );
  const html = qosTableHtml([row], ["a <note>"]);
  expect(html).toContain("background:#fff3cd"); // seen differs from what the kubelet asks
  expect(html).toContain("a &lt;note&gt;");
});
