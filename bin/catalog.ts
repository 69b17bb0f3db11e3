/**
 * What can be selected: suite folders under suites/ and the @tags used in their test titles.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { titleTags } from "../helpers/framework/report.ts";

export interface Catalog {
  suites: string[];
  tags: string[];
}

/** Tags are `@word` inside quoted test titles, e.g. test("should answer HTTP @smoke", ...). */
export function tagsIn(source: string): string[] {
  const tags = new Set<string>();
  for (const title of source.matchAll(/(?:test|it|describe)(?:\.\w+(?:\([^()]*\))?)*\(\s*(["'`])(.*?)\1/g)) {
    for (const tag of titleTags(title[2] ?? "")) tags.add(tag);
  }
  return [...tags];
}

export function scanSuites(suitesDir: string): Catalog {
  const suites: string[] = [];
  const tags = new Set<string>();
  let entries: string[];
  try {
    entries = readdirSync(suitesDir);
  } catch {
    return { suites: [], tags: [] };
  }
  for (const suite of entries.sort()) {
    if (!statSync(join(suitesDir, suite)).isDirectory()) continue;
    const files = readdirSync(join(suitesDir, suite), { recursive: true, encoding: "utf8" }).filter((f) =>
      f.endsWith(".e2e.test.ts"),
    );
    if (files.length === 0) continue;
    suites.push(suite);
    for (const file of files)
      for (const tag of tagsIn(readFileSync(join(suitesDir, suite, file), "utf8"))) tags.add(tag);
  }
  return { suites, tags: [...tags].sort() };
}
