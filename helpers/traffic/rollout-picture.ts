/**
 * A picture of a rollout for the report (SVG, no dependency): pods per ReplicaSet over time, the bounds,
 * and every probe request as a tick coloured by the version that answered (red: failed).
 *
 *   await attach("rollout timeline", rolloutSvg({ origin, states: timeline.samples, records, versionOf, marks }), "image/svg+xml");
 */

import { attach } from "../framework/report.ts";
import { formatDuration } from "../framework/timeouts.ts";
import type { RolloutState } from "../observe/rollout.ts";
import type { Sample } from "../observe/timeline.ts";
import type { ProbeRecord } from "./prober.ts";
import { isFailure } from "./prober.ts";

export interface PictureInput {
  title: string;
  /** Epoch ms that state sample times (`at`) are relative to. */
  origin: number;
  states: readonly Sample<RolloutState>[];
  records: readonly ProbeRecord[];
  /** Version (ReplicaSet name) of the pod that answered. */
  versionOf: (pod: string) => string | undefined;
  /** Horizontal lines: e.g. { label: "replicas + maxSurge", value: 4 }. */
  bounds?: readonly { label: string; value: number }[];
  /** Vertical lines at epoch ms: e.g. { label: "set image", at: Date.now() }. */
  marks?: readonly { label: string; at: number }[];
}

const PALETTE = ["#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#bcbd22"];
const FAILED = "#d62728";
const WIDTH = 1000;
const LEFT = 150;
const RIGHT = 20;
const TOP = 40;
const PODS_HEIGHT = 180;
const ROW = 26;

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function versionsInOrder(input: PictureInput): string[] {
  const names = input.states.flatMap((s) => s.value.replicaSets.map((rs) => rs.name));
  for (const r of input.records) {
    const v = input.versionOf(r.pod);
    if (v) names.push(v);
  }
  return [...new Set(names)];
}

/** Renders the picture; times run left to right from the first observation to the last. */
export function rolloutSvg(input: PictureInput): string {
  const times = [
    ...input.states.map((s) => s.at + input.origin),
    ...input.records.flatMap((r) => [r.at, r.at + r.latencyMs]),
  ];
  const t0 = Math.min(...times, input.origin);
  const t1 = Math.max(...times, t0 + 1);
  const x = (t: number): number => LEFT + ((t - t0) / (t1 - t0)) * (WIDTH - LEFT - RIGHT);
  const maxPods = Math.max(1, ...input.states.map((s) => s.value.objects), ...(input.bounds ?? []).map((b) => b.value));
  const y = (n: number): number => TOP + PODS_HEIGHT - (n / maxPods) * PODS_HEIGHT;
  const versions = versionsInOrder(input);
  const colour = (v: string | undefined): string =>
    v === undefined ? "#7f7f7f" : (PALETTE[versions.indexOf(v) % PALETTE.length] ?? "#7f7f7f");
  const parts: string[] = [];
  const step = (values: number[], stroke: string, extra = ""): void => {
    const points = input.states.map((s, i) => {
      const next = input.states[i + 1];
      const here = x(s.at + input.origin);
      const until = next ? x(next.at + input.origin) : x(t1);
      return `${here.toFixed(1)},${y(values[i] ?? 0).toFixed(1)} ${until.toFixed(1)},${y(values[i] ?? 0).toFixed(1)}`;
    });
    if (points.length > 0) {
      parts.push(`<polyline fill="none" stroke="${stroke}" stroke-width="2" ${extra} points="${points.join(" ")}"/>`);
    }
  };
  // Pods panel: one line per ReplicaSet (counted pods), the total counted, ready, and pod objects.
  for (const v of versions) {
    step(
      input.states.map((s) => s.value.replicaSets.find((rs) => rs.name === v)?.counted ?? 0),
      colour(v),
    );
  }
  step(
    input.states.map((s) => s.value.counted),
    "#000",
  );
  step(
    input.states.map((s) => s.value.ready),
    "#000",
    'stroke-dasharray="4 3"',
  );
  step(
    input.states.map((s) => s.value.objects),
    "#aaa",
    'stroke-dasharray="1 3"',
  );
  for (const b of input.bounds ?? []) {
    parts.push(
      `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y(b.value)}" y2="${y(b.value)}" stroke="${FAILED}" stroke-dasharray="6 4"/>`,
      `<text x="${WIDTH - RIGHT}" y="${y(b.value) - 3}" text-anchor="end" fill="${FAILED}">${escapeXml(`${b.label} (${b.value})`)}</text>`,
    );
  }
  for (let n = 0; n <= maxPods; n++) {
    parts.push(`<text x="${LEFT - 6}" y="${y(n) + 4}" text-anchor="end">${n}</text>`);
  }
  parts.push(`<text x="10" y="${TOP + PODS_HEIGHT / 2}">pods</text>`);
  // Probe rows: one tick per request.
  const sources = [...new Set(input.records.map((r) => r.source))];
  const rowsTop = TOP + PODS_HEIGHT + 30;
  sources.forEach((source, row) => {
    const top = rowsTop + row * ROW;
    parts.push(`<text x="10" y="${top + 15}">${escapeXml(source)}</text>`);
    for (const r of input.records.filter((rec) => rec.source === source)) {
      const fill = isFailure(r) ? FAILED : colour(input.versionOf(r.pod));
      const height = isFailure(r) ? ROW - 4 : ROW - 10;
      parts.push(
        `<rect x="${x(r.at).toFixed(1)}" y="${top + (ROW - 4 - height)}" width="1.5" height="${height}" fill="${fill}"/>`,
      );
    }
  });
  const bottom = rowsTop + sources.length * ROW;
  for (const m of input.marks ?? []) {
    parts.push(
      `<line x1="${x(m.at)}" x2="${x(m.at)}" y1="${TOP - 5}" y2="${bottom}" stroke="#444" stroke-dasharray="2 2"/>`,
      `<text x="${x(m.at) + 3}" y="${TOP - 8}">${escapeXml(m.label)}</text>`,
    );
  }
  const seconds = Math.ceil((t1 - t0) / 1000);
  const tickEvery = Math.max(1, Math.ceil(seconds / 20));
  for (let s = 0; s <= seconds; s += tickEvery) {
    parts.push(`<text x="${x(t0 + s * 1000)}" y="${bottom + 15}" text-anchor="middle">${s}s</text>`);
  }
  const legend = [
    ...versions.map((v) => `<tspan fill="${colour(v)}">■ ${escapeXml(v)}</tspan>`),
    "<tspan>— counted</tspan>",
    "<tspan>- - ready</tspan>",
    '<tspan fill="#888">··· pod objects (terminating too)</tspan>',
    `<tspan fill="${FAILED}">▮ failed request</tspan>`,
  ];
  const height = bottom + 50;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="18" font-size="13" font-weight="bold">${escapeXml(input.title)}</text>`,
    ...parts,
    `<text x="10" y="${bottom + 38}">${legend.join("  ")}</text>`,
    "</svg>",
  ].join("\n");
}

/** Attaches the picture (image/svg+xml) and the event-by-event timeline as text to the current step. */
export async function attachRolloutPicture(input: PictureInput, showState: (s: RolloutState) => string): Promise<void> {
  await attach(`${input.title}: picture`, rolloutSvg(input), "image/svg+xml");
  const timeline = input.states.map((s) => `+${formatDuration(s.at)}  ${showState(s.value)}`).join("\n");
  await attach(`${input.title}: every watch event`, timeline);
}
