/**
 * How many test files run at once (vitest's maxWorkers for the e2e project), decided before the run and
 * said in its banner.
 *
 * Scenarios wait on the cluster, not on the runner's CPU, so against a cluster of its own machines a run
 * keeps 4 files going. The local test bed is different: its nodes, their pods, the probers and the runner
 * all share this host's cores, so every file added takes CPU from the ones already running. There the
 * probers and kube-proxy starve once the host is oversubscribed (load average 17-28 on 2 cores with 4
 * files), and zero-downtime verdicts fail for the machine's sake, not the cluster's. So on a test bed that
 * runs on this host, one file per core the host has.
 */
export interface WorkerFacts {
  /** KOC_MAX_WORKERS as given (already validated), or undefined. */
  given: string | undefined;
  /** This host's cores. */
  cores: number;
  /** The target is the local test bed, running on this host's cores. */
  testbedHere: boolean;
}

export const REMOTE_WORKERS = 4;

export function chooseWorkers(facts: WorkerFacts): { workers: number; why: string } {
  if (facts.given !== undefined && facts.given.trim() !== "")
    return { workers: Number(facts.given), why: "KOC_MAX_WORKERS" };
  if (facts.testbedHere) {
    const workers = Math.max(1, Math.min(REMOTE_WORKERS, facts.cores));
    return {
      workers,
      why: `one per core: the test bed's nodes share this host's ${facts.cores} core(s); KOC_MAX_WORKERS to change`,
    };
  }
  return { workers: REMOTE_WORKERS, why: "the cluster runs elsewhere; KOC_MAX_WORKERS to change" };
}
