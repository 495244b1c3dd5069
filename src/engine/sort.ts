/**
 * Deterministic ordering helpers shared by the engine's reports and plans.
 * @module
 */

/** Compares two strings by UTF-16 code units, independent of locale (a stable sort key). */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Compares two tuples of strings (or nulls, which sort first) element by element with
 * {@link compareCodeUnits}.
 */
export function compareKeys(
  a: readonly (string | null)[],
  b: readonly (string | null)[],
): number {
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    if (x === y) continue;
    if (x === null) return -1;
    if (y === null) return 1;
    const order = compareCodeUnits(x, y);
    if (order !== 0) return order;
  }
  return 0;
}
