/**
 * What a running container sees of its configuration: env vars, files, symlinks and modes, read with exec
 * (POSIX sh, busybox or coreutils), never read back from the API.
 *
 * Secret values cannot be compared as text: exec() scrubs every learned Secret value out of its output
 * (helpers/framework/redact.ts). They are compared as SHA-256 digests instead, computed inside the container and
 * here, so the value itself never crosses into the test process, the report or an error message.
 */
import { createHash } from "node:crypto";
import type { TestNamespace } from "../framework/namespace.ts";
import { shell } from "./exec.ts";

/** SHA-256 of `text` (UTF-8), lowercase hex: what `sha256sum` prints for a file holding exactly `text`. */
export function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** The digest of the first line of `sha256sum` output (`<hex>  <path>`); throws when there is none. */
export function parseDigest(output: string): string {
  const hex = output.trim().split(/\s+/)[0] ?? "";
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`not sha256sum output: "${output.trim().slice(0, 100)}"`);
  return hex;
}

/** SHA-256 of a file as the container reads it (following symlinks). */
export async function fileDigest(ns: TestNamespace, pod: string, path: string): Promise<string> {
  return parseDigest(await shell(ns, pod, `sha256sum '${path}'`));
}

/** SHA-256 of env var `name` in the container's environment, or "unset" when it is not set at all. */
export async function envDigest(ns: TestNamespace, pod: string, name: string): Promise<string> {
  const output = await shell(
    ns,
    pod,
    `if [ -z "\${${name}+x}" ]; then echo unset; else printf %s "$${name}" | sha256sum; fi`,
  );
  return output.trim() === "unset" ? "unset" : parseDigest(output);
}

/**
 * A volume written by the kubelet's atomic writer (Secret, ConfigMap, projected, downward API):
 *
 *   password -> ..data/password                     one symlink per key
 *   ..data   -> ..2025_11_01_10_23_45.1234567890    the current timestamped directory
 *   ..2025_11_01_10_23_45.1234567890/password       the files themselves
 */
export interface VolumeLayout {
  /** Every symlink in the mount directory and its target (`readlink`). */
  links: Record<string, string>;
  /** The directories in the mount directory (the timestamped ones). */
  dirs: string[];
  /** Regular files directly in the mount directory (none in an atomic-writer volume). */
  files: string[];
  /** The files inside `..data/` and their permission bits in octal (`stat -c %a`), e.g. `{ password: "440" }`. */
  dataFiles: Record<string, string>;
}

/** `^..YYYY_MM_DD_HH_MM_SS.<suffix>$`: the name of a timestamped directory the atomic writer creates. */
export const TIMESTAMPED_DIR = /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.[^/\s]+$/;

/** The script behind volumeLayout: one line per entry, `link <name> <target>`, `dir <name>`, `file <name>`, `data <name> <mode>`. */
export function layoutScript(dir: string): string {
  return [
    `cd '${dir}' || exit 1`,
    'for f in $(ls -A); do if [ -L "$f" ]; then echo "link $f $(readlink "$f")"; elif [ -d "$f" ]; then echo "dir $f"; else echo "file $f"; fi; done',
    'if [ -d ..data ]; then for f in $(ls -A ..data/); do echo "data $f $(stat -c %a "..data/$f")"; done; fi',
  ].join("\n");
}

/** Parses the output of layoutScript; throws on a line it does not understand. */
export function parseLayout(output: string): VolumeLayout {
  const layout: VolumeLayout = { links: {}, dirs: [], files: [], dataFiles: {} };
  for (const line of output.split("\n").filter((l) => l.trim() !== "")) {
    const [kind, name, detail] = line.trim().split(" ");
    if (kind === "link" && name && detail) layout.links[name] = detail;
    else if (kind === "dir" && name) layout.dirs.push(name);
    else if (kind === "file" && name) layout.files.push(name);
    else if (kind === "data" && name && detail) layout.dataFiles[name] = detail;
    else throw new Error(`unexpected line in a volume listing: "${line}"`);
  }
  return layout;
}

/** Reads the layout of the volume mounted at `dir` from inside the pod. */
export async function volumeLayout(ns: TestNamespace, pod: string, dir: string): Promise<VolumeLayout> {
  return parseLayout(await shell(ns, pod, layoutScript(dir)));
}

/** `..data -> ..2025_...; password -> ..data/password; dirs: ..2025_...; ..data/password 440` */
export function showLayout(layout: VolumeLayout): string {
  const links = Object.entries(layout.links).map(([name, target]) => `${name} -> ${target}`);
  const data = Object.entries(layout.dataFiles).map(([name, mode]) => `..data/${name} ${mode}`);
  const files = layout.files.length > 0 ? [`plain files: ${layout.files.join(", ")}`] : [];
  return [...links, `dirs: ${layout.dirs.join(", ") || "none"}`, ...files, ...data].join("; ");
}
