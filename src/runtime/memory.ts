/**
 * Keeps peak memory close to what roster really holds on large directories.
 *
 * Reading 100,000 entries makes a lot of short-lived garbage (protocol messages, parsed
 * attributes) that V8 collects late, so the heap, and the process's peak memory, grows to
 * several times the live data. {@link relieveMemory} collects garbage when the process has
 * grown past a budget: 256 MiB (`ROSTER_MEMORY_BUDGET_MB`), or half again what it held after the
 * last collection, whichever is larger, so that small directories never pay for a collection and a very large one is not
 * collected over and over. A forced collection costs time (a few hundred milliseconds on a
 * large heap), so it is only called at a few points: during a directory read, and between the
 * phases of a sync. The collector is reached through `node:v8` and `node:vm`, as in Node; where
 * that is unavailable, nothing happens.
 * @module
 */

import v8 from "node:v8";
import vm from "node:vm";

/** Resident memory below which garbage is never collected by hand, by default (MiB). */
export const DEFAULT_MEMORY_BUDGET_MIB = 256;

/** Growth over the memory held after the last collection that triggers the next one. */
export const MEMORY_GROWTH_FACTOR = 1.5;

/**
 * The budget in bytes: `ROSTER_MEMORY_BUDGET_MB` when it is a positive number (raise it on hosts
 * with memory to spare: fewer collections, faster reads), else {@link DEFAULT_MEMORY_BUDGET_MIB}.
 */
export function memoryBudgetBytes(value: string | undefined): number {
  const mib = Number(value);
  return (value !== undefined && Number.isFinite(mib) && mib > 0
    ? mib
    : DEFAULT_MEMORY_BUDGET_MIB) *
    1024 * 1024;
}

let collector: (() => void) | null | undefined;
let floor: number | undefined;
let threshold: number | undefined;

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

function envVar(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

function residentBytes(): number {
  try {
    return Deno.memoryUsage().rss;
  } catch {
    return 0;
  }
}

/**
 * Collects garbage if the process has grown past its budget; cheap when it has not. Returns
 * whether it collected.
 */
export function relieveMemory(): boolean {
  floor ??= memoryBudgetBytes(envVar("ROSTER_MEMORY_BUDGET_MB"));
  threshold ??= floor;
  if (residentBytes() < threshold) return false;
  if (collector === undefined) collector = resolveCollector();
  if (collector === null) return false;
  collector();
  threshold = Math.max(floor, residentBytes() * MEMORY_GROWTH_FACTOR);
  return true;
}
