/**
 * Every KOC_* variable the project reads, each with the check of its value. The CLI runs these checks
 * before it does anything else, so a bad or misspelt variable is one line and exit 2, never a stack
 * trace halfway through a run and never silently ignored.
 *
 * A new variable goes into VARIABLES (and README's configuration table), a suite's sabotage switch into
 * SABOTAGE_SWITCHES (bin/environment.test.ts checks that list against the suite folders, the switches the code
 * reads and README's table). Only `KOC_IMAGE_<KEY>` overrides are recognised by their shape; their keys are
 * checked against the image table.
 */
import {
  ConfigError,
  imageOverridesFrom,
  parseBoolean,
  parseRatio,
  parseTimeoutScale,
  validateRegistry,
  validateRunId,
  validateStorageClassName,
} from "../helpers/framework/config.ts";
import { resolveImages } from "../helpers/framework/images.ts";
import { livenessDelaySeconds } from "../helpers/observe/probe-evidence.ts";
import { selectVersions } from "../testbed/versions.ts";

/** Throws a ConfigError saying what to fix; `raw` is the variable's value as set. */
type Check = (raw: string, name: string) => void;

const anyText: Check = () => {};

const flag: Check = (raw, name) => void parseBoolean(name, raw);

/** A whole number from `min` to `max`. */
function wholeNumber(min: number, max: number, example: number): Check {
  return (raw, name) => {
    const value = Number(raw);
    if (raw.trim() === "" || !Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`${name} must be a whole number from ${min} to ${max} (e.g. ${example}), got "${raw}"`);
    }
  };
}

function oneOf(values: readonly string[]): Check {
  return (raw, name) => {
    if (!values.includes(raw)) throw new ConfigError(`${name} must be one of ${values.join(", ")}, got "${raw}"`);
  };
}

/**
 * The suites' sabotage switches (`KOC_<SUITE>_SABOTAGE=1`, CONTRIBUTING.md): only suites whose scenarios read
 * one have one. Any other name, e.g. `KOC_ROLLOUT_SABOTAGE` or a switch for a suite that has none, would be
 * read by nothing, so it is refused like every other misspelt variable.
 */
export const SABOTAGE_SWITCHES = [
  "KOC_PROBES_SABOTAGE",
  "KOC_RESOURCES_SABOTAGE",
  "KOC_ROLLOUTS_SABOTAGE",
  "KOC_SMOKE_SABOTAGE",
  "KOC_STORAGE_SABOTAGE",
] as const;

/** The variables by name, with their checks. */
export const VARIABLES: Readonly<Record<string, Check>> = {
  KOC_CONTEXT: anyText,
  KOC_KUBECONFIG: anyText,
  KOC_RUN_ID: (raw) => void validateRunId(raw.trim()),
  KOC_TIMEOUT_SCALE: (raw) => void parseTimeoutScale(raw),
  KOC_KEEP_NAMESPACE_ON_FAILURE: flag,
  KOC_REPORTS_DIR: anyText,
  KOC_IMAGE_REGISTRY: (raw) => void (raw.trim() === "" || validateRegistry(raw)),
  KOC_MAX_WORKERS: wholeNumber(1, 64, 4),
  KOC_MAX_FAILED_REQUEST_RATIO: (raw, name) => void parseRatio(name, raw),
  KOC_PROBES_LIVENESS_DELAY: (raw) => void livenessDelaySeconds({ KOC_PROBES_LIVENESS_DELAY: raw }),
  KOC_DISRUPTIVE: flag,
  KOC_RWX_STORAGE_CLASS: (raw, name) => void validateStorageClassName(name, raw),
  KOC_PROBER_RATE: wholeNumber(1, 2000, 200),
  // Not a suite's switch: every in-cluster prober's clock shifted on purpose (helpers/traffic/prober.ts proberClockShift).
  KOC_PROBER_CLOCK_SHIFT: wholeNumber(-60_000, 60_000, 500),
  // The Allure history folder (set by `report --history DIR`).
  KOC_ALLURE_HISTORY: anyText,
  // Set by the CLI itself: `list` (no cluster), and the private folder of the Secret values workers learn.
  KOC_LIST_ONLY: flag,
  KOC_LEARNED_SECRETS_DIR: anyText,
  // Set in the suite image's Job by `run --in-cluster` (bin/in-cluster.ts): the runner is a pod of the cluster.
  KOC_IN_CLUSTER: flag,
  // The local test bed (testbed/cluster.ts), started by `run` when no target is given.
  KOC_TESTBED_NAME: (raw, name) => {
    if (!/^[a-z0-9]([-a-z0-9]{0,48}[a-z0-9])?$/.test(raw)) {
      throw new ConfigError(`${name} must be a kind cluster name (lowercase letters, digits, '-'), got "${raw}"`);
    }
  },
  KOC_TESTBED_IMAGES: oneOf(["local", "stock"]),
  // Its Kubernetes minor (testbed/versions.ts): a supported minor or its pinned version.
  KOC_KUBERNETES: (raw, name) => {
    try {
      selectVersions(raw);
    } catch (e) {
      throw new ConfigError(`${name}: ${(e as Error).message}`);
    }
  },
  KOC_CACHE_DIR: anyText,
  // The steps file of `cluster:upgrade` that `run --compare` reads (default: the test bed's in KOC_CACHE_DIR).
  KOC_UPGRADE_STEPS: anyText,
  KOC_KUBECTL: anyText,
  ...Object.fromEntries(SABOTAGE_SWITCHES.map((name) => [name, flag])),
  // The test bed's own sabotage switch, read by `cluster:verify` as "1" only (testbed/README.md).
  KOC_CEPHFS_SABOTAGE: oneOf(["0", "1"]),
};

const IMAGE_OVERRIDE = /^KOC_IMAGE_[A-Z0-9_]+$/;

/** The check for a variable name, or undefined for a KOC_* name nothing reads. */
function checkFor(name: string): Check | undefined {
  if (Object.hasOwn(VARIABLES, name)) return VARIABLES[name];
  // Known key and pinned reference: checked with the whole image table, below.
  if (IMAGE_OVERRIDE.test(name)) return anyText;
  return undefined;
}

/** The line for a KOC_* name nothing reads: what looks like a sabotage switch is shown the switches there are. */
function unknownVariable(name: string): string {
  if (/SABOT/.test(name)) {
    const switches = Object.keys(VARIABLES).filter((known) => known.endsWith("_SABOTAGE"));
    return `${name} is not a sabotage switch of k8s-ops-conformance (misspelt, or a suite without one?); switches: ${switches.join(", ")}`;
  }
  const known = [...Object.keys(VARIABLES), "KOC_IMAGE_<KEY>"].join(", ");
  return `${name} is not a variable of k8s-ops-conformance (misspelt?); known: ${known}`;
}

/**
 * Checks every KOC_* variable of `env` that has a value; throws a ConfigError (an ImageError for image references) naming
 * the first bad one, or the first name nothing reads with the known names, so the CLI can print one line
 * and exit 2.
 */
export function checkEnvironment(env: NodeJS.ProcessEnv): void {
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith("KOC_")) continue;
    const raw = env[name];
    if (raw === undefined || raw.trim() === "") continue; // empty means unset, as for every reader of these

    const check = checkFor(name);
    if (check === undefined) throw new ConfigError(unknownVariable(name));
    check(raw, name);
  }
  const registry = env.KOC_IMAGE_REGISTRY?.trim() || undefined;
  resolveImages({ registry: registry && validateRegistry(registry), overrides: imageOverridesFrom(env) });
}
