/**
 * Host kernel settings around `kind create`: kind's inotify limits go up, and the sysctls kubelet writes
 * host-wide from inside privileged nodes are put back once the nodes run.
 */
import { $ } from "zx";

const HOST_SYSCTLS = [
  "kernel.panic",
  "kernel.panic_on_oops",
  "vm.overcommit_memory",
  "vm.panic_on_oom",
  "fs.protected_fifos",
  "fs.protected_hardlinks",
  "fs.protected_regular",
  "fs.protected_symlinks",
];
// kind's known issue for several nodes on one host: the default inotify instance limit (128) is too low
const INOTIFY = { "fs.inotify.max_user_watches": 524288, "fs.inotify.max_user_instances": 512 };

export type Sysctls = Record<string, string | number>;

async function readSysctls(names: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const r = await $`sysctl -n ${n}`.nothrow();
    if (r.exitCode === 0) out[n] = r.stdout.trim();
  }
  return out;
}

export async function writeSysctls(values: Sysctls): Promise<void> {
  for (const [k, v] of Object.entries(values)) await $`sysctl -qw ${`${k}=${v}`}`.nothrow();
}

/** Raises the inotify limits and returns the sysctls to put back after the nodes started. */
export async function prepareSysctls(): Promise<Sysctls> {
  await writeSysctls(INOTIFY);
  return readSysctls(HOST_SYSCTLS);
}
