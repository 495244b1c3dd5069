/**
 * The automatic-sync loop behind `roster sync --watch`: run, wait `interval`, run again; back
 * off after a failure; stop cleanly when the signal aborts (SIGINT, SIGTERM).
 *
 * The loop never exits on a failed run: a directory or server outage is logged and retried.
 * @module
 */

/** The outcome of one run, as the loop needs it. */
export interface WatchRunResult {
  /** Whether the run succeeded (synced, or nothing to do). */
  ok: boolean;
  /** One summary line for the log. */
  summary: string;
}

/** Options for {@link watch}. */
export interface WatchOptions {
  /** Time between the start of successful runs' waits, in milliseconds. */
  intervalMs: number;
  /** Stop after this many runs (for scripts and tests). @default unlimited */
  maxRuns?: number;
  /** Aborting stops the loop after the current run, or at once while waiting. */
  signal: AbortSignal;
  /** Runs one sync. A thrown error counts as a failed run. */
  runOnce: (runNumber: number) => Promise<WatchRunResult>;
  /** Writes one log line. */
  log: (line: string) => void;
  /** Waits, resolving early when the signal aborts. @default a timer */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** First retry delay after a failure, in milliseconds. @default min(30 s, interval) */
  backoffBaseMs?: number;
  /** Longest retry delay after repeated failures. @default 4 × interval */
  backoffMaxMs?: number;
}

/** What the loop did. */
export interface WatchResult {
  runs: number;
  failures: number;
  /** Why the loop ended. */
  stoppedBy: "signal" | "max-runs";
}

/** Waits `ms` milliseconds, or until `signal` aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Delay before the next run after `consecutiveFailures` failures in a row (0 = success). */
export function nextDelay(
  consecutiveFailures: number,
  options: { intervalMs: number; backoffBaseMs?: number; backoffMaxMs?: number },
): number {
  if (consecutiveFailures <= 0) return options.intervalMs;
  const base = options.backoffBaseMs ?? Math.min(30_000, options.intervalMs);
  const max = options.backoffMaxMs ?? options.intervalMs * 4;
  return Math.min(max, base * 2 ** (consecutiveFailures - 1));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs syncs until the signal aborts or `maxRuns` is reached. */
export async function watch(options: WatchOptions): Promise<WatchResult> {
  const sleep = options.sleep ?? abortableSleep;
  let runs = 0;
  let failures = 0;
  let consecutive = 0;
  while (!options.signal.aborted) {
    runs++;
    let result: WatchRunResult;
    try {
      result = await options.runOnce(runs);
    } catch (error) {
      result = { ok: false, summary: `run failed: ${describe(error)}` };
    }
    if (result.ok) {
      consecutive = 0;
    } else {
      failures++;
      consecutive++;
    }
    const delay = nextDelay(consecutive, options);
    const next = options.maxRuns !== undefined && runs >= options.maxRuns
      ? ""
      : result.ok
      ? `; next run in ${seconds(delay)}`
      : `; retrying in ${seconds(delay)} (failure ${consecutive} in a row)`;
    options.log(`run ${runs}: ${result.summary}${next}`);
    if (options.maxRuns !== undefined && runs >= options.maxRuns) {
      return { runs, failures, stoppedBy: "max-runs" };
    }
    await sleep(delay, options.signal);
  }
  return { runs, failures, stoppedBy: "signal" };
}

function seconds(ms: number): string {
  return ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}
