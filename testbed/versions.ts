#!/usr/bin/env node
/**
 * Every pinned version of the local test bed, in one table: one row per supported Kubernetes minor, and
 * the pins every minor shares. cluster.ts selects a row (--kubernetes / KOC_KUBERNETES, default: the
 * newest minor) and exports it to the build scripts as environment variables; a build script run by hand
 * asks this file for them (`node testbed/versions.ts env [MINOR]`). testbed/versions.test.ts checks that
 * every row has every pin, well formed, and that the default is the newest minor.
 *
 * Where each value comes from, for a new row (testbed/README.md, "Adding the next minor"):
 *   KUBERNETES_VERSION          the newest patch the Go module proxy serves (`go list -m -versions k8s.io/kubernetes`)
 *   KUBERNETES_STAGING_VERSION  the same patch of the staging modules: v1.X.Y -> v0.X.Y (k8s.io/api, client-go, ...)
 *   ETCD_IMAGE_TAG              that version's kubeadm: cmd/kubeadm/app/constants/constants.go, SupportedEtcdVersion
 *                               for the minor (or DefaultEtcdVersion), as `kubeadm config images list` prints it
 *   ETCD_VERSION                the etcd module built into that image: the same version (go.etcd.io/etcd/server/v3)
 *   COREDNS_VERSION             constants.go, CoreDNSVersion
 *   PAUSE_IMAGE_TAG             constants.go, PauseVersion
 *   CRICTL_VERSION              build/dependencies.yaml, "crictl" (sigs.k8s.io/cri-tools); the nearest served
 *                               release when the proxy refuses that one
 */
import { fileURLToPath } from "node:url";

/** The pins that differ between minors (each also a variable of the build scripts). */
export const MINOR_PINS = [
  "KUBERNETES_VERSION",
  "KUBERNETES_STAGING_VERSION",
  "ETCD_VERSION",
  "ETCD_IMAGE_TAG",
  "COREDNS_VERSION",
  "PAUSE_IMAGE_TAG",
  "CRICTL_VERSION",
] as const;
export type MinorPins = Record<(typeof MINOR_PINS)[number], string>;

/** What every minor shares: kind (the newest release that supports the newest minor) and the add-ons. */
export const SHARED = {
  KIND_VERSION: "v0.33.0",
  LOCAL_PATH_PROVISIONER_VERSION: "v0.0.30",
  DEBIAN_SUITE: "bookworm",
} as const;

/** The supported minors (those in maintenance), each with its newest served patch and that patch's pins. */
export const MINORS: Readonly<Record<string, MinorPins>> = {
  "1.35": {
    KUBERNETES_VERSION: "v1.35.4",
    KUBERNETES_STAGING_VERSION: "v0.35.4",
    ETCD_VERSION: "v3.6.6",
    ETCD_IMAGE_TAG: "3.6.6-0",
    COREDNS_VERSION: "v1.13.1",
    PAUSE_IMAGE_TAG: "3.10.1",
    CRICTL_VERSION: "v1.34.0",
  },
  "1.36": {
    KUBERNETES_VERSION: "v1.36.3",
    KUBERNETES_STAGING_VERSION: "v0.36.3",
    ETCD_VERSION: "v3.6.8",
    ETCD_IMAGE_TAG: "3.6.8-0",
    COREDNS_VERSION: "v1.14.2",
    PAUSE_IMAGE_TAG: "3.10.2",
    // dependencies.yaml names v1.35.0, which the module proxy refuses
    CRICTL_VERSION: "v1.36.0",
  },
  "1.37": {
    KUBERNETES_VERSION: "v1.37.2",
    KUBERNETES_STAGING_VERSION: "v0.37.2",
    // kubeadm 1.37's SupportedEtcdVersion stops at 36 and falls back to the nearest: 3.7.0-0
    ETCD_VERSION: "v3.7.0",
    ETCD_IMAGE_TAG: "3.7.0-0",
    COREDNS_VERSION: "v1.14.6",
    PAUSE_IMAGE_TAG: "3.10.2",
    CRICTL_VERSION: "v1.36.0",
  },
};

/** A selected row with the shared pins: what the build scripts read. */
export type Versions = MinorPins & typeof SHARED & { KUBERNETES_MINOR: string };

const minorNumber = (minor: string) => Number(minor.split(".")[1]);

/** The supported minors, oldest first. */
export function supportedMinors(): string[] {
  return Object.keys(MINORS).sort((a, b) => minorNumber(a) - minorNumber(b));
}

/** The newest supported minor: what the test bed runs unless told otherwise. */
export const DEFAULT_MINOR = supportedMinors().at(-1) ?? "";

/** A Kubernetes version the table does not have; the CLI prints the message as one line and exits 2. */
export class UnsupportedVersionError extends Error {}

/**
 * The row for `request`: a minor ("1.36", "v1.36") or a full version ("v1.36.3", "1.36.3", which must be
 * the patch the table pins); empty or undefined: the default (newest) minor.
 */
export function selectVersions(request?: string): Versions {
  const raw = request?.trim() ?? "";
  const wanted = raw === "" ? DEFAULT_MINOR : raw;
  const m = /^v?(1\.\d+)(\.\d+)?$/.exec(wanted);
  const supported = supportedMinors()
    .map((minor) => `${minor} (${MINORS[minor]?.KUBERNETES_VERSION})`)
    .join(", ");
  const pins = m?.[1] === undefined ? undefined : MINORS[m[1]];
  if (m?.[1] === undefined || pins === undefined) {
    throw new UnsupportedVersionError(
      `Kubernetes "${wanted}" is not supported by the test bed; supported: ${supported}`,
    );
  }
  if (m[2] !== undefined && `v${m[1]}${m[2]}` !== pins.KUBERNETES_VERSION) {
    throw new UnsupportedVersionError(
      `Kubernetes ${wanted} is not the pinned patch of ${m[1]} (${pins.KUBERNETES_VERSION}); supported: ${supported}`,
    );
  }
  return { KUBERNETES_MINOR: m[1], ...pins, ...SHARED };
}

/** "v1.36.3" -> "1.36" (undefined when it is no Kubernetes version). */
export function minorOf(version: string): string | undefined {
  return /^v?(1\.\d+)(\.\d+)?/.exec(version.trim())?.[1];
}

/** `export NAME='value'` lines for a shell's eval. */
export function shellExports(v: Versions): string {
  return `${Object.entries(v)
    .map(([name, value]) => `export ${name}='${value}'`)
    .join("\n")}\n`;
}

// node testbed/versions.ts env [MINOR]   the selected row for a shell (MINOR, else KOC_KUBERNETES, else the newest)
// node testbed/versions.ts minors        the supported minors, oldest first, one a line
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [cmd, arg] = process.argv.slice(2);
  try {
    if (cmd === "env") process.stdout.write(shellExports(selectVersions(arg ?? process.env.KOC_KUBERNETES)));
    else if (cmd === "minors") process.stdout.write(`${supportedMinors().join("\n")}\n`);
    else {
      console.error("usage: node testbed/versions.ts env [MINOR|VERSION] | minors");
      process.exit(2);
    }
  } catch (e) {
    console.error(`versions: ${(e as Error).message}`);
    process.exit(2);
  }
}
