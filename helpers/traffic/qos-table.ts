/**
 * The report's QoS table: per container, its class, the oom_score_adj it runs with next to the one the
 * kubelet asks for, and the cgroup limits it sees, side by side (Markdown for the console, HTML for Allure).
 */
import { formatBytes } from "../observe/qos.ts";
import type { CgroupView } from "./cgroup-view.ts";

/** One container of one pod, as the API and the container itself report it. */
export interface QosRow {
  pod: string;
  container: string;
  /** status.qosClass */
  qosClass: string;
  /** "cpu 100m/100m, memory 64Mi/64Mi" (request/limit, "-" when unset). */
  resources: string;
  expectedOomScoreAdj: number;
  view: CgroupView;
}

const COLUMNS = [
  "pod/container",
  "QoS class",
  "requests/limits",
  "oom_score_adj seen",
  "kubelet asks",
  "memory limit (cgroup)",
  "cpu limit (quota/period)",
  "cpu weight",
] as const;

function cells(row: QosRow): string[] {
  const v = row.view;
  const quota = v.cpuQuotaUs === null ? "none" : `${v.cpuLimitMillis}m (${v.cpuQuotaUs}/${v.cpuPeriodUs}us)`;
  return [
    `${row.pod}/${row.container}`,
    row.qosClass,
    row.resources,
    String(v.oomScoreAdj),
    String(row.expectedOomScoreAdj),
    formatBytes(v.memoryLimitBytes),
    quota,
    v.cpuWeight,
  ];
}

/** A Markdown table (also readable as plain text in the console). */
export function qosTableMarkdown(rows: readonly QosRow[]): string {
  const line = (values: readonly string[]) => `| ${values.join(" | ")} |`;
  return [line(COLUMNS), line(COLUMNS.map(() => "---")), ...rows.map((r) => line(cells(r)))].join("\n");
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A self-contained HTML page: the table and the notes under it. */
export function qosTableHtml(rows: readonly QosRow[], notes: readonly string[]): string {
  const head = COLUMNS.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const body = rows
    .map((r) => {
      const differs = r.view.oomScoreAdj !== r.expectedOomScoreAdj ? ' style="background:#fff3cd"' : "";
      return `<tr${differs}>${cells(r)
        .map((c) => `<td>${escapeHtml(c)}</td>`)
        .join("")}</tr>`;
    })
    .join("\n");
  const style =
    "body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px;text-align:left}";
  const list = notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("");
  return `<!doctype html><html><head><meta charset="utf-8"><style>${style}</style></head><body>
<table><tr>${head}</tr>
${body}
</table><ul>${list}</ul></body></html>`;
}
