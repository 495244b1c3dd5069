/**
 * Keeps peak memory close to what roster really holds on large directories.
 *
 * Reading 100,000 entries makes a lot of short-lived garbage (protocol messages, parsed
 * attributes) that V8 collects late, so the heap, and the process's peak memory, grows to
 * several times the live data. Collecting at a few well-chosen points (every so many entries
 * read, and between phases) bounds it. The collector is reached through `node:v8` and `node:vm`,
 * as in Node; where that is unavailable, these calls do nothing.
 * @module
 */

import v8 from "node:v8";
import vm from "node:vm";

let collector: (() => void) | null | undefined;

function resolveCollector(): (() => void) | null {
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc: unknown = vm.runInNewContext("gc");
    if (typeof gc !== "function") return null;
    return () => {
      gc();
    };
  } catch {
    return null;
  }
}

/** Runs a full garbage collection now, when the runtime allows it. */
export function collectGarbage(): void {
  if (collector === undefined) collector = resolveCollector();
  if (Deno.env.get("ROSTER_NO_GC") === undefined) collector?.();
}

/** Options for {@link GarbageBudget}. */
export interface GarbageBudgetOptions {
  /** Collect after this many entries have been read since the last collection. */
  entries: number;
  /** Directories smaller than this are never collected during the read. @default entries */
  threshold?: number;
}

/**
 * Counts entries as they are read and collects garbage every `entries` of them, once the read
 * is past `threshold` (small directories never pay for it).
 */
export class GarbageBudget {
  readonly #every: number;
  readonly #threshold: number;
  #total = 0;
  #since = 0;

  constructor(options: GarbageBudgetOptions) {
    this.#every = options.entries;
    this.#threshold = options.threshold ?? options.entries;
  }

  /** Records `count` more entries read; collects when the budget is spent. */
  add(count: number): void {
    this.#total += count;
    this.#since += count;
    if (this.#total >= this.#threshold && this.#since >= this.#every) {
      this.#since = 0;
      collectGarbage();
    }
  }

  /** Entries counted so far. */
  get total(): number {
    return this.#total;
  }
}
