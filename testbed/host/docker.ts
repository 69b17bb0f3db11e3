/** The Docker engine the test bed runs on. */
import { join } from "node:path";
import { $ } from "zx";
import { type Mode, TESTBED } from "../common.ts";

export async function dockerUp(): Promise<boolean> {
  return (await $`docker info`.nothrow()).exitCode === 0;
}

export async function ensureEngine(mode: Mode): Promise<void> {
  if (mode === "local") await $`bash ${join(TESTBED, "host/ensure-docker.sh")}`;
  else if (!(await dockerUp())) throw new Error("no Docker engine answers: start Docker, or use --images=local");
}
